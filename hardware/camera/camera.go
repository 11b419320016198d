// Package camera delivers camera frames as luma planes, ready for QR
// decoding without conversion:
//
//   - Rpicam runs `rpicam-vid --codec yuv420 -o -` (Camera Module 3 on a
//     Pi) and cuts its raw stdout into frames;
//   - Webcam reads a V4L2 USB webcam in YUYV or MJPEG (V4L2 through
//     github.com/blackjack/webcam, pure Go);
//   - FFmpeg decodes any file or device ffmpeg can read into raw yuv420,
//     for tests and the simulator; YUV420File and MJPEG read raw streams.
//
// Source supervises any of them: a stream that ends or stalls (no frame
// for Stall on the injected clock) is logged, reported through OnTrouble,
// closed (killing the process) and reopened with backoff, and Next carries
// on with the new stream. A camera program's trouble says why: Command
// keeps the end of its stderr (StderrTail) and a program that fails ends
// its stream with an *ExitError carrying it; Source.LastError keeps the
// last trouble for the kiosk's admin screen.
package camera

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/internal/backoff"
)

// Frame is one camera frame's luma plane.
type Frame struct {
	Width, Height int
	Stride        int    // bytes between rows of Y
	Y             []byte // luma, Stride*Height bytes
	Seq           uint64 // 1, 2, ... across reopens of a Source
	At            time.Time
}

// Stream is an open frame stream. ReadFrame returns io.EOF at its end.
type Stream interface {
	ReadFrame() (Frame, error)
	Close() error
}

// YUV420 cuts a raw planar yuv420 (I420) stream into frames. Width must
// be even; rpicam-vid pads rows to a multiple of 64 bytes unless the width
// already is one, so Rpicam insists on such widths.
type YUV420 struct {
	r             io.Reader
	width, height int
	buf           []byte
	c             io.Closer
}

// NewYUV420 reads width x height I420 frames from r; Close closes c (may be
// nil).
func NewYUV420(r io.Reader, width, height int, c io.Closer) (*YUV420, error) {
	if width <= 0 || height <= 0 || width%2 != 0 || height%2 != 0 {
		return nil, fmt.Errorf("yuv420 stream: bad size %dx%d", width, height)
	}
	return &YUV420{r: r, width: width, height: height, buf: make([]byte, width*height*3/2), c: c}, nil
}

// ReadFrame implements Stream. A partial last frame is io.ErrUnexpectedEOF.
func (s *YUV420) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return Frame{}, err
	}
	y := make([]byte, s.width*s.height)
	copy(y, s.buf)
	return Frame{Width: s.width, Height: s.height, Stride: s.width, Y: y}, nil
}

// Close implements Stream.
func (s *YUV420) Close() error {
	if s.c != nil {
		return s.c.Close()
	}
	return nil
}

// MJPEG cuts a stream of concatenated JPEG images (ffmpeg -f mjpeg, IP
// cameras, V4L2 MJPEG buffers) into frames, decoding only as far as
// image/jpeg must and keeping the Y plane.
type MJPEG struct {
	r *bufio.Reader
	c io.Closer
}

// NewMJPEG reads JPEG images back to back from r; Close closes c (may be
// nil).
func NewMJPEG(r io.Reader, c io.Closer) *MJPEG { return &MJPEG{r: bufio.NewReaderSize(r, 1<<16), c: c} }

// ReadFrame implements Stream.
func (s *MJPEG) ReadFrame() (Frame, error) {
	data, err := nextJPEG(s.r)
	if err != nil {
		return Frame{}, err
	}
	return DecodeJPEG(data)
}

// Close implements Stream.
func (s *MJPEG) Close() error {
	if s.c != nil {
		return s.c.Close()
	}
	return nil
}

// nextJPEG returns the bytes from the next SOI to its EOI, walking marker
// segments by length and the entropy-coded data by byte stuffing, so
// 0xFFD9 inside a segment is not mistaken for the end.
func nextJPEG(r *bufio.Reader) ([]byte, error) {
	// Skip to SOI.
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b != 0xFF {
			continue
		}
		if m, err := r.Peek(1); err == nil && m[0] == 0xD8 {
			r.ReadByte()
			break
		}
	}
	out := []byte{0xFF, 0xD8}
	inScan := false
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		if b != 0xFF {
			if !inScan {
				return nil, errors.New("mjpeg: garbage between segments")
			}
			out = append(out, b)
			continue
		}
		m, err := r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		switch {
		case m == 0xFF: // fill byte: drop it, read the marker again
			r.UnreadByte()
			continue
		case m == 0x00 || (m >= 0xD0 && m <= 0xD7): // stuffing, restart
			out = append(out, 0xFF, m)
			continue
		case m == 0xD9:
			return append(out, 0xFF, 0xD9), nil
		}
		// A segment with a length.
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, unexpected(err)
		}
		n := int(l[0])<<8 | int(l[1])
		if n < 2 {
			return nil, fmt.Errorf("mjpeg: segment %#02x with length %d", m, n)
		}
		seg := make([]byte, n-2)
		if _, err := io.ReadFull(r, seg); err != nil {
			return nil, unexpected(err)
		}
		out = append(append(append(out, 0xFF, m), l[:]...), seg...)
		inScan = m == 0xDA
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

var (
	dhtOnce sync.Once
	dht     []byte
)

// standardDHT returns the JPEG Annex K Huffman tables as DHT segments,
// taken from what image/jpeg's encoder writes (it uses exactly those).
func standardDHT() []byte {
	dhtOnce.Do(func() {
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 16, 16)), nil) // colour: all four tables
		b := buf.Bytes()
		for i := 2; i+4 <= len(b); {
			m := b[i+1]
			n := int(b[i+2])<<8 | int(b[i+3])
			if m == 0xC4 {
				dht = append(dht, b[i:i+2+n]...)
			}
			if m == 0xDA {
				break
			}
			i += 2 + n
		}
	})
	return dht
}

// DecodeJPEG decodes one JPEG image into a Frame holding its luma plane.
// Images without Huffman tables — many USB webcams leave them out of MJPEG
// frames — get the standard tables.
func DecodeJPEG(data []byte) (Frame, error) {
	if !bytes.Contains(data, []byte{0xFF, 0xC4}) {
		if i := bytes.Index(data, []byte{0xFF, 0xDA}); i > 0 {
			data = append(append(append([]byte(nil), data[:i]...), standardDHT()...), data[i:]...)
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return Frame{}, fmt.Errorf("decode jpeg frame: %w", err)
	}
	switch m := img.(type) {
	case *image.YCbCr:
		r := m.Rect
		return Frame{Width: r.Dx(), Height: r.Dy(), Stride: m.YStride, Y: m.Y[m.YOffset(r.Min.X, r.Min.Y):]}, nil
	case *image.Gray:
		r := m.Rect
		return Frame{Width: r.Dx(), Height: r.Dy(), Stride: m.Stride, Y: m.Pix[m.PixOffset(r.Min.X, r.Min.Y):]}, nil
	}
	return Frame{}, fmt.Errorf("decode jpeg frame: unsupported colour model %T", img)
}

// Command is a program writing raw frames to stdout.
type Command struct {
	Path          string
	Args          []string
	Width, Height int
	MJPEG         bool // stdout is MJPEG rather than raw yuv420
}

// Rpicam returns the rpicam-vid command for a width x height yuv420 stream
// at fps frames per second. width must be a multiple of 64 so rows carry no
// padding.
func Rpicam(width, height, fps int) (Command, error) {
	if width <= 0 || width%64 != 0 || height <= 0 || height%2 != 0 {
		return Command{}, fmt.Errorf("rpicam: %dx%d: width must be a multiple of 64 and height even", width, height)
	}
	if fps <= 0 {
		fps = 10
	}
	return Command{
		Path: "rpicam-vid",
		Args: []string{"-t", "0", "-n", "--codec", "yuv420", "--width", fmt.Sprint(width), "--height", fmt.Sprint(height),
			"--framerate", fmt.Sprint(fps), "--flush", "-o", "-"},
		Width: width, Height: height,
	}, nil
}

// FFmpeg returns an ffmpeg command decoding input (a file, or anything
// ffmpeg opens) to width x height raw yuv420, in real time if realtime.
func FFmpeg(input string, width, height int, realtime bool) Command {
	var args []string
	if realtime {
		args = append(args, "-re")
	}
	args = append(args, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", input,
		"-vf", fmt.Sprintf("scale=%d:%d", width, height), "-pix_fmt", "yuv420p", "-f", "rawvideo", "-")
	return Command{Path: "ffmpeg", Args: args, Width: width, Height: height}
}

// StderrTail is how much of the end of a camera program's stderr Open
// keeps, to say why the program failed.
const StderrTail = 4096

// exitWait bounds how long a stream whose stdout ended waits for its
// program to exit, to report how it exited.
const exitWait = 2 * time.Second

// ExitError is a camera program that stopped: it exited unsuccessfully, or
// was killed because the context given to Open ended.
type ExitError struct {
	Path   string
	Err    error  // the *exec.ExitError, or the context's error
	Stderr string // the end of what it wrote to stderr (at most StderrTail bytes)
}

func (e *ExitError) Error() string {
	msg := e.Path + ": " + e.Err.Error()
	if e.Stderr != "" {
		msg += ": " + strings.ReplaceAll(e.Stderr, "\n", "; ")
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// Open starts the command. The program is killed, and reaped, when ctx
// ends or the stream is closed. When its stdout ends ReadFrame returns
// io.EOF if the program exited successfully, and an *ExitError, which
// carries the end of its stderr, if it did not.
func (c Command) Open(ctx context.Context) (Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	// stdout is an os.Pipe handed to the program as it is, not
	// cmd.StdoutPipe: Wait then runs as soon as the program exits (so it
	// is reaped, and its exit known, at once) without closing what is left
	// to read.
	out, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Stdout = w
	stderr := &tail{max: StderrTail}
	cmd.Stderr = stderr
	cmd.WaitDelay = exitWait // a descendant holding stderr open cannot hold up Wait
	err = cmd.Start()
	w.Close()
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	p := &process{path: c.Path, cmd: cmd, out: out, stderr: stderr, exited: make(chan struct{})}
	go p.wait(ctx)
	var st Stream
	if c.MJPEG {
		st = NewMJPEG(out, p)
	} else if st, err = NewYUV420(out, c.Width, c.Height, p); err != nil {
		p.Close()
		return nil, err
	}
	return &commandStream{Stream: st, p: p}, nil
}

// commandStream is a Stream read from a program's stdout that says, when
// the stream ends, why the program stopped.
type commandStream struct {
	Stream
	p *process
}

// ReadFrame implements Stream.
func (s *commandStream) ReadFrame() (Frame, error) {
	f, err := s.Stream.ReadFrame()
	if err == nil {
		return f, nil
	}
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-s.p.exited:
		if s.p.err != nil {
			return Frame{}, s.p.err
		}
	case <-t.C: // stdout closed but the program runs on
	}
	return Frame{}, err
}

// Stderr returns the end of what the program has written to stderr so far.
func (s *commandStream) Stderr() string { return s.p.stderr.String() }

type process struct {
	path   string
	cmd    *exec.Cmd
	out    *os.File
	stderr *tail
	exited chan struct{} // closed once the program is reaped
	err    error         // how it exited (*ExitError), nil for success; set before exited closes
	once   sync.Once
}

// wait reaps the program as soon as it exits.
func (p *process) wait(ctx context.Context) {
	defer close(p.exited)
	err := p.cmd.Wait()
	if err == nil {
		return
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	p.err = &ExitError{Path: p.path, Err: err, Stderr: p.stderr.String()}
}

// Close kills the program and waits until it is reaped.
func (p *process) Close() error {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		_ = p.out.Close()
		<-p.exited
	})
	return nil
}

// tail keeps the last max bytes written to it, from the start of a line
// where it can.
type tail struct {
	mu  sync.Mutex
	b   []byte
	max int
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.max {
		p, t.cut = p[len(p)-t.max:], true
	}
	if drop := len(t.b) + len(p) - t.max; drop > 0 {
		t.b, t.cut = append(t.b[:0], t.b[drop:]...), true
	}
	t.b = append(t.b, p...)
	return n, nil
}

// String returns the text kept, without a partial first line when the
// start was dropped, and trimmed of surrounding space.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.b
	if t.cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// SourceConfig configures a Source.
type SourceConfig struct {
	// Open opens the stream, again after every end or stall.
	Open   func(ctx context.Context) (Stream, error)
	Clock  hardware.Clock
	Logger *slog.Logger
	// Stall is how long Next waits for a frame before it declares the
	// stream stalled and reopens it; default 5s.
	Stall time.Duration
	// Backoff between reopen attempts, doubling from Min to Max
	// (defaults 100ms, 5s).
	BackoffMin, BackoffMax time.Duration
	// OnTrouble, when set, is called with every end, stall or open error.
	OnTrouble func(error)
}

// ErrStalled reports a stream that delivered no frame for SourceConfig.Stall.
var ErrStalled = errors.New("camera stream stalled")

// ErrEnded reports a stream that ended.
var ErrEnded = errors.New("camera stream ended")

// Source is a supervised frame source.
type Source struct {
	cfg   SourceConfig
	clock hardware.Clock
	log   *slog.Logger

	stream Stream
	frames chan result
	done   chan struct{} // closed when the current stream is abandoned
	wg     sync.WaitGroup
	seq    uint64
	fails  int // reopen attempts since the last frame

	mu      sync.Mutex // guards lastErr and lastAt, read by LastError
	lastErr error
	lastAt  time.Time
}

type result struct {
	f   Frame
	err error
}

// NewSource returns a Source; the stream is opened on the first Next.
func NewSource(cfg SourceConfig) *Source {
	s := &Source{cfg: cfg, clock: cfg.Clock, log: cfg.Logger}
	if s.clock == nil {
		s.clock = hardware.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.cfg.Stall <= 0 {
		s.cfg.Stall = 5 * time.Second
	}
	if s.cfg.BackoffMin <= 0 {
		s.cfg.BackoffMin = 100 * time.Millisecond
	}
	if s.cfg.BackoffMax < s.cfg.BackoffMin {
		s.cfg.BackoffMax = max(5*time.Second, s.cfg.BackoffMin)
	}
	return s
}

func (s *Source) trouble(err error) {
	s.log.Warn("camera: "+err.Error(), "err", err)
	s.mu.Lock()
	s.lastErr, s.lastAt = err, s.clock.Now()
	s.mu.Unlock()
	if s.cfg.OnTrouble != nil {
		s.cfg.OnTrouble(err)
	}
}

// LastError returns when the last end, stall or open error of the stream
// happened (on the injected clock) and the error, nil if there was none. It
// may be called from any goroutine, while another one calls Next.
func (s *Source) LastError() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAt, s.lastErr
}

// Next returns the next frame, reopening the stream as needed. It returns
// an error only when ctx is done.
func (s *Source) Next(ctx context.Context) (Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Frame{}, err
		}
		if s.stream == nil {
			st, err := s.cfg.Open(ctx)
			if err != nil {
				s.trouble(fmt.Errorf("open camera stream: %w", err))
				if err := s.sleep(ctx); err != nil {
					return Frame{}, err
				}
				continue
			}
			s.start(st)
		}
		timeout, t := hardware.After(s.clock, s.cfg.Stall)
		select {
		case r := <-s.frames:
			t.Stop()
			if r.err != nil {
				if errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded) {
					// The stream was opened for an earlier call whose
					// context has ended, which ended its program: no
					// trouble, open another.
					s.log.Debug("camera: stream of an ended context", "err", r.err)
					s.abandon()
					continue
				}
				if errors.Is(r.err, io.EOF) {
					s.trouble(ErrEnded)
				} else {
					s.trouble(fmt.Errorf("%w: %w", ErrEnded, r.err))
				}
				s.abandon()
				if err := s.sleep(ctx); err != nil {
					return Frame{}, err
				}
				continue
			}
			s.fails = 0
			s.seq++
			r.f.Seq = s.seq
			r.f.At = s.clock.Now()
			return r.f, nil
		case <-timeout:
			err := fmt.Errorf("%w: no frame for %v", ErrStalled, s.cfg.Stall)
			if e, ok := s.stream.(interface{ Stderr() string }); ok && e.Stderr() != "" {
				err = fmt.Errorf("%w; stderr: %s", err, strings.ReplaceAll(e.Stderr(), "\n", "; "))
			}
			s.trouble(err)
			s.abandon()
		case <-ctx.Done():
			t.Stop()
			return Frame{}, ctx.Err()
		}
	}
}

// start reads st in a goroutine, one frame ahead.
func (s *Source) start(st Stream) {
	s.stream = st
	s.frames = make(chan result)
	s.done = make(chan struct{})
	frames, done := s.frames, s.done
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			f, err := st.ReadFrame()
			select {
			case frames <- result{f, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// abandon closes the current stream (unblocking its reader) and waits for
// its goroutine.
func (s *Source) abandon() {
	if s.stream == nil {
		return
	}
	close(s.done)
	_ = s.stream.Close()
	s.wg.Wait()
	s.stream = nil
}

func (s *Source) sleep(ctx context.Context) error {
	s.fails++
	t := time.NewTimer(backoff.Policy{Base: s.cfg.BackoffMin, Max: s.cfg.BackoffMax}.Delay(s.fails))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes the current stream.
func (s *Source) Close() error {
	s.abandon()
	return nil
}

// Interface guards.
var (
	_ Stream = (*YUV420)(nil)
	_ Stream = (*MJPEG)(nil)
)
