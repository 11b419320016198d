// Package smtptest is a small SMTP server on loopback for tests: it speaks
// enough of RFC 5321 (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, without
// TLS or AUTH) for a real client to deliver to it, records each message it
// accepts, and can refuse recipients or drop connections to inject faults.
package smtptest

import (
	"bufio"
	"bytes"
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
}

// Server is a running test SMTP server.
type Server struct {
	Addr string // host:port on 127.0.0.1
	ln   net.Listener
	wg   sync.WaitGroup

	mu     sync.Mutex
	msgs   []Message
	reject map[string]bool
	drop   int
	conns  int
}

// Start starts a server; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, reject: map[string]bool{}}
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
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
		drop := s.drop > 0
		if drop {
			s.drop--
		}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.session(c, drop)
		}()
	}
}

// session runs one SMTP conversation; every read has a deadline.
func (s *Server) session(c net.Conn, drop bool) {
	r := bufio.NewReader(c)
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
			ok = reply("250-smtptest greets " + arg + "\r\n250-8BITMIME\r\n250 SMTPUTF8")
		case "HELO":
			ok = reply("250 smtptest")
		case "MAIL":
			if drop {
				return
			}
			m = Message{From: address(arg)}
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

// address takes the address out of "FROM:<a@b> PARAMS" or "TO:<a@b>".
func address(arg string) string {
	_, rest, _ := strings.Cut(arg, ":")
	rest = strings.TrimSpace(rest)
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		return rest[1:i]
	}
	return strings.Fields(rest + " ")[0]
}
