// Package mail is HQ's outgoing email: the Message and Mailer types, SMTP
// delivery (SMTPMailer, configured by SMTPConfig), the dry-run DirMailer
// for development, Retrying (a failed send queued in the database for the
// notifier to retry) and Attempt, which sends once and returns the entry
// for the delivery log. A message's body carries single-use links: it is
// never logged or stored in the delivery log.
package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"keycab.dev/keycab/hq/store"
)

// Message is an email to send.
type Message struct {
	Kind    string // invite, reset, magic
	OrgID   string
	To      string
	Subject string
	Body    string // carries a single-use link: never log or store it
	// Attachments go with the message (a pass's QR code); a dry run and
	// a retry from the database leave them out.
	Attachments []Attachment
}

// Attachment is a file sent with a message.
type Attachment struct {
	Name        string // the file name the recipient sees
	ContentType string // e.g. image/png
	Data        []byte
}

// Mailer sends email. A Mailer that also has a DryRun method returning
// true only records what it would send.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Attempt sends m through mailer once and returns the entry for the
// delivery log: "sent", "failed" with the error, or "dry-run" when mailer
// is nil or only records (see Mailer). The entry holds no body, so no
// link or token reaches the log.
func Attempt(ctx context.Context, mailer Mailer, m Message) store.Delivery {
	d := store.Delivery{Kind: m.Kind, OrgID: m.OrgID, To: m.To, Subject: m.Subject, Status: "dry-run"}
	if mailer == nil {
		return d
	}
	dry := false
	if dr, ok := mailer.(interface{ DryRun() bool }); ok && dr.DryRun() {
		dry = true
	}
	if err := mailer.Send(ctx, m); err != nil {
		d.Status, d.Error = "failed", err.Error()
	} else if !dry {
		d.Status = "sent"
	}
	return d
}

// DirMailer is a dry-run Mailer for development: it writes each message
// to a file in Dir (mode 0600) instead of sending it, so a developer can
// follow invite, reset and sign-in links. The messages carry live
// single-use links: never point it at a shared directory in production.
type DirMailer struct{ Dir string }

// DryRun reports that nothing is sent.
func (DirMailer) DryRun() bool { return true }

// Send writes m to a new file.
func (d DirMailer) Send(_ context.Context, m Message) error {
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return fmt.Errorf("dry-run mail: %w", err)
	}
	name := filepath.Join(d.Dir, fmt.Sprintf("%d-%s.eml", time.Now().UnixNano(), m.Kind))
	msg := fmt.Sprintf("To: %s\r\nSubject: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", m.To, m.Subject, m.Body)
	if err := os.WriteFile(name, []byte(msg), 0o600); err != nil {
		return fmt.Errorf("dry-run mail: %w", err)
	}
	return nil
}

var _ Mailer = DirMailer{}

// RetryQueue keeps a message whose send failed for another attempt later
// (the store's Outbox().QueueMailRetry; HQ's notifier drains it).
type RetryQueue interface {
	QueueMailRetry(ctx context.Context, m store.NoticeMail, retryAt time.Time) (string, error)
}

// Retrying is a Mailer that queues a message it failed to send for a
// retry in the database after After, so that a refused recipient or a
// dropped connection does not lose an invitation or a link. The send still
// reports the failure (the delivery log records it), saying whether the
// message was queued.
type Retrying struct {
	Mailer Mailer
	Queue  RetryQueue
	After  time.Duration
	Now    func() time.Time // nil means time.Now
}

// DryRun reports whether the wrapped mailer only records.
func (r Retrying) DryRun() bool {
	dr, ok := r.Mailer.(interface{ DryRun() bool })
	return ok && dr.DryRun()
}

// Send sends m, or queues it for a retry when that fails.
func (r Retrying) Send(ctx context.Context, m Message) error {
	err := r.Mailer.Send(ctx, m)
	if err == nil {
		return nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	q := store.NoticeMail{Kind: m.Kind, OrgID: m.OrgID, To: m.To, Subject: m.Subject, Body: m.Body, LastError: err.Error()}
	if _, qerr := r.Queue.QueueMailRetry(ctx, q, now().Add(r.After)); qerr != nil {
		return fmt.Errorf("%w (%v)", err, qerr)
	}
	return fmt.Errorf("%w (queued for a retry)", err)
}

var _ Mailer = Retrying{}
