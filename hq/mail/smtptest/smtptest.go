// Package smtptest is a small SMTP server on loopback for tests: it speaks
// enough of RFC 5321 (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), with
// STARTTLS or implicit TLS under a certificate it makes for 127.0.0.1 and
// AUTH PLAIN if asked, for a real client to deliver to it; it records each
// message it accepts, and can refuse recipients or drop connections to
// inject faults.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	From   string
	To     []string
	Data   []byte      // as received, dot-unstuffed
	Header mail.Header // parsed from Data
	Body   string
	TLS    bool   // the session was encrypted
	User   string // the authenticated user, if any
}

// Options configure a server made by StartWith.
type Options struct {
	TLS string // "" (none), "starttls" or "tls" (implicit)
	// Username and Password, when set, are required (AUTH PLAIN, over
	// TLS only) before MAIL.
	Username, Password string
}

// Server is a running test SMTP server.
type Server struct {
	Addr  string // host:port on 127.0.0.1
	ln    net.Listener
	wg    sync.WaitGroup
	opts  Options
	tls   *tls.Config // nil without TLS
	roots *x509.CertPool

	mu     sync.Mutex
	msgs   []Message
	reject map[string]bool
	drop   int
	conns  int
	open   map[net.Conn]bool // sessions under way, closed when the test ends
}

// Start starts a server without TLS or AUTH; it stops when the test ends.
func Start(tb testing.TB) *Server { return StartWith(tb, Options{}) }

// StartWith starts a server with opts; it stops when the test ends.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{opts: opts, reject: map[string]bool{}, open: map[net.Conn]bool{}}
	if opts.TLS != "" {
		cert, roots, err := selfSigned()
		if err != nil {
			tb.Fatal(err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.roots = roots
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr, s.ln = ln.Addr().String(), ln
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.open {
			c.Close() // a client that left a session open does not hold the test up
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// Roots returns a pool that trusts the server's certificate (nil without
// TLS).
func (s *Server) Roots() *x509.CertPool { return s.roots }

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

// Host and Port split Addr.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Reject makes RCPT TO of addr answer 550 (on) or be accepted again (off).
func (s *Server) Reject(addr string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[strings.ToLower(addr)] = on
}

// DropNext makes the next n sessions end abruptly after MAIL FROM: the
// connection is closed without a reply.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = n
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Sessions returns how many connections the server has accepted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.open[c] = true
		drop := s.drop > 0
		if drop {
			s.drop--
		}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c, drop)
			c.Close()
			s.mu.Lock()
			delete(s.open, c)
			s.mu.Unlock()
		}()
	}
}

// session runs one SMTP conversation; every read has a deadline.
func (s *Server) session(c net.Conn, drop bool) {
	secure := false
	if s.opts.TLS == "tls" {
		c, secure = tls.Server(c, s.tls), true
	}
	r := bufio.NewReader(c)
	user := ""
	reply := func(line string) bool {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := c.Write([]byte(line + "\r\n"))
		return err == nil
	}
	readLine := func() (string, bool) {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := r.ReadString('\n')
		if err != nil || len(l) > 4096 {
			return "", false
		}
		return strings.TrimRight(l, "\r\n"), true
	}
	if !reply("220 smtptest ESMTP ready") {
		return
	}
	var m Message
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := "250-smtptest greets " + arg + "\r\n250-8BITMIME\r\n"
			if s.opts.TLS == "starttls" && !secure {
				ext += "250-STARTTLS\r\n"
			}
			if s.opts.Username != "" && secure {
				ext += "250-AUTH PLAIN\r\n"
			}
			ok = reply(ext + "250 SMTPUTF8")
		case "STARTTLS":
			if s.opts.TLS != "starttls" || secure {
				ok = reply("502 no STARTTLS here")
				break
			}
			if !reply("220 go ahead") {
				return
			}
			c, secure = tls.Server(c, s.tls), true
			r = bufio.NewReader(c)
			m = Message{}
		case "AUTH":
			ok = reply(s.auth(arg, secure, reply, readLine, &user))
		case "HELO":
			ok = reply("250 smtptest")
		case "MAIL":
			if drop {
				return
			}
			if s.opts.Username != "" && user == "" {
				ok = reply("530 5.7.0 authentication required")
				break
			}
			m = Message{From: address(arg), TLS: secure, User: user}
			ok = reply("250 ok")
		case "RCPT":
			to := address(arg)
			s.mu.Lock()
			refused := s.reject[strings.ToLower(to)]
			s.mu.Unlock()
			if refused {
				ok = reply("550 5.1.1 mailbox unavailable")
				break
			}
			m.To = append(m.To, to)
			ok = reply("250 ok")
		case "DATA":
			if len(m.To) == 0 {
				ok = reply("554 no valid recipients")
				break
			}
			if !reply("354 end with <CRLF>.<CRLF>") {
				return
			}
			var data bytes.Buffer
			for data.Len() < 10<<20 {
				l, ok := readLine()
				if !ok {
					return
				}
				if l == "." {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
			}
			m.Data = data.Bytes()
			if pm, err := mail.ReadMessage(bytes.NewReader(m.Data)); err == nil {
				m.Header = pm.Header
				var b bytes.Buffer
				b.ReadFrom(pm.Body)
				m.Body = b.String()
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			m = Message{}
			ok = reply("250 queued")
		case "RSET":
			m = Message{}
			ok = reply("250 ok")
		case "NOOP":
			ok = reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			ok = reply("502 command not implemented")
		}
		if !ok {
			return
		}
	}
}

// auth answers AUTH PLAIN, reading the credentials from the next line
// when they are not on the command's.
func (s *Server) auth(arg string, secure bool, reply func(string) bool, readLine func() (string, bool), user *string) string {
	mech, resp, _ := strings.Cut(arg, " ")
	if s.opts.Username == "" || !secure || !strings.EqualFold(mech, "PLAIN") {
		return "504 5.5.4 unrecognised authentication"
	}
	if resp == "" {
		var ok bool
		if !reply("334 ") {
			return ""
		}
		if resp, ok = readLine(); !ok {
			return "501 5.5.2 no response"
		}
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != 3 || parts[1] != s.opts.Username || parts[2] != s.opts.Password {
		return "535 5.7.8 authentication credentials invalid"
	}
	*user = parts[1]
	return "235 2.7.0 authentication successful"
}

// address takes the address out of "FROM:<a@b> PARAMS" or "TO:<a@b>".
func address(arg string) string {
	_, rest, _ := strings.Cut(arg, ":")
	rest = strings.TrimSpace(rest)
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		return rest[1:i]
	}
	return strings.Fields(rest + " ")[0]
}
