package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTP security modes.
const (
	SMTPStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	SMTPTLS      = "tls"      // implicit TLS from the first byte (usually port 465)
	SMTPNone     = "none"     // no encryption: for a relay on the same host only
)

// SMTPConfig configures an SMTPMailer.
type SMTPConfig struct {
	Host string
	// Port defaults to 587 for STARTTLS, 465 for TLS and 25 for none.
	Port     int
	Security string // SMTPStartTLS (the default), SMTPTLS or SMTPNone
	// Username and Password authenticate to the server when Username is
	// set. The password comes from a file or the environment, never the
	// command line, and is never logged.
	Username string
	Password string `json:"-"`
	From     string // the sender address, e.g. "keycab <hq@example.com>"
	// Timeout bounds each connection; zero means 30 seconds.
	Timeout time.Duration
	// TLS overrides the TLS settings (tests trust their own CA with it);
	// nil verifies the server against the system roots.
	TLS *tls.Config
}

// String describes c without the password, should c reach a log.
func (c SMTPConfig) String() string {
	return fmt.Sprintf("smtp %s:%d (%s) from %s as %q", c.Host, c.Port, c.Security, c.From, c.Username)
}

// Validate checks c and fills in its defaults.
func (c *SMTPConfig) Validate() error {
	c.Host = strings.TrimSpace(c.Host)
	if c.Host == "" {
		return errors.New("smtp: a host is needed")
	}
	if c.Security == "" {
		c.Security = SMTPStartTLS
	}
	switch c.Security {
	case SMTPStartTLS, SMTPTLS, SMTPNone:
	default:
		return fmt.Errorf("smtp: security %q: want %s, %s or %s", c.Security, SMTPStartTLS, SMTPTLS, SMTPNone)
	}
	if c.Port == 0 {
		c.Port = map[string]int{SMTPStartTLS: 587, SMTPTLS: 465, SMTPNone: 25}[c.Security]
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("smtp: port %d is out of range", c.Port)
	}
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("smtp: sender address %q: %w", c.From, err)
	}
	if c.Username != "" && c.Password == "" {
		return errors.New("smtp: a username needs a password (from a file or the environment)")
	}
	if c.Username != "" && c.Security == SMTPNone {
		return errors.New("smtp: refusing to send a password without TLS: use starttls or tls")
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return nil
}

// SMTPMailer sends email through an SMTP server (github.com/wneessen/go-mail),
// one connection per message.
type SMTPMailer struct{ cfg SMTPConfig }

// NewSMTPMailer returns a mailer for cfg, once cfg is valid.
func NewSMTPMailer(cfg SMTPConfig) (*SMTPMailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &SMTPMailer{cfg: cfg}, nil
}

// DryRun reports that messages are really sent.
func (*SMTPMailer) DryRun() bool { return false }

// String describes the mailer without its credentials.
func (s *SMTPMailer) String() string {
	return s.cfg.String()
}

// Send delivers m. The error says which step failed (a refused
// recipient, a dropped connection) and never carries the credentials.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("smtp: sender: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("smtp: recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetGenHeader(mail.HeaderXMailer, "keycab-hq")
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	msg.SetGenHeader("X-Keycab-Kind", m.Kind)
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	for _, a := range m.Attachments {
		msg.AttachReadSeeker(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType)))
	}

	opts := []mail.Option{mail.WithPort(s.cfg.Port), mail.WithTimeout(s.cfg.Timeout), mail.WithoutNoop()}
	switch s.cfg.Security {
	case SMTPTLS:
		opts = append(opts, mail.WithSSL())
	case SMTPStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case SMTPNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	tc := s.cfg.TLS
	if tc == nil {
		tc = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, mail.WithTLSConfig(tc))
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	c, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

var _ Mailer = (*SMTPMailer)(nil)
