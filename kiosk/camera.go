package kiosk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"time"

	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/qr"
)

// Frames is a source of camera frames (camera.Source).
type Frames interface {
	Next(ctx context.Context) (camera.Frame, error)
}

// QRScanner reads QR codes from camera frames: key fob labels and QR
// badges alike. Every code in every frame is reported; the controller's
// scan cool-down turns a code held in view into one scan.
type QRScanner struct {
	frames  Frames
	dec     *qr.Decoder
	pending []badge.Badge

	mu     sync.Mutex
	latest camera.Frame // the newest frame read, for Still
}

// NewQRScanner decodes the frames of src.
func NewQRScanner(src Frames) *QRScanner {
	return &QRScanner{frames: src, dec: qr.NewDecoder()}
}

// Read returns the next code seen.
func (s *QRScanner) Read(ctx context.Context) (badge.Badge, error) {
	for len(s.pending) == 0 {
		f, err := s.frames.Next(ctx)
		if err != nil {
			return badge.Badge{}, err
		}
		s.mu.Lock()
		s.latest = f
		s.mu.Unlock()
		codes, err := s.dec.Decode(f.Y, f.Width, f.Height, f.Stride)
		if err != nil {
			continue // an unreadable frame; the next one may do
		}
		for _, c := range codes {
			s.pending = append(s.pending, badge.Badge{Code: c.Text, Source: "qr", At: f.At})
		}
	}
	b := s.pending[0]
	s.pending = s.pending[1:]
	return b, nil
}

// Stills is a source of camera stills for the log (keycab.Policy
// Stills): a JPEG of what the camera sees now.
type Stills interface {
	Still() ([]byte, error)
}

// Bounds of a still: at most StillWidth pixels wide, at JPEG quality
// StillQuality (a 640 x 480 grey still is some 20 to 60 KiB), from a
// frame at most StillMaxAge old (by the frame source's clock, the
// system's: an older one is a stalled camera's, not what it sees now).
const (
	StillWidth   = 640
	StillQuality = 75
	StillMaxAge  = 10 * time.Second
)

// errNoFrame is Still's error before the camera gave a frame.
var errNoFrame = errors.New("the camera has given no frame yet")

// Still returns the newest frame the scanner read as a grey JPEG (the
// frames are luma planes), scaled down by a whole factor to at most
// StillWidth pixels wide. It never waits for the camera: with no frame
// yet, or only one older than StillMaxAge, it fails at once.
func (s *QRScanner) Still() ([]byte, error) {
	s.mu.Lock()
	f := s.latest
	s.mu.Unlock()
	if age := time.Since(f.At); !f.At.IsZero() && age > StillMaxAge {
		return nil, fmt.Errorf("the camera's newest frame is %v old", age.Round(time.Second))
	}
	return EncodeStill(f)
}

// EncodeStill encodes frame f as Still does.
func EncodeStill(f camera.Frame) ([]byte, error) {
	if f.Width <= 0 || f.Height <= 0 || f.Stride < f.Width || len(f.Y) < f.Stride*(f.Height-1)+f.Width {
		return nil, errNoFrame
	}
	step := (f.Width + StillWidth - 1) / StillWidth
	w, h := f.Width/step, f.Height/step
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			sum := 0
			for dy := range step {
				row := f.Y[(y*step+dy)*f.Stride+x*step:]
				for dx := range step {
					sum += int(row[dx])
				}
			}
			img.Pix[y*img.Stride+x] = uint8(sum / (step * step))
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: StillQuality}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// cameraTrouble is what camera.Source offers beyond Frames: its last
// trouble, for the admin screen.
type cameraTrouble interface {
	LastError() (time.Time, error)
}

// LastError returns when the camera's last error happened and the error,
// nil when there was none (or the frames cannot say).
func (s *QRScanner) LastError() (time.Time, error) {
	if t, ok := s.frames.(cameraTrouble); ok {
		return t.LastError()
	}
	return time.Time{}, nil
}

// Interface guards.
var (
	_ Scanner       = (*QRScanner)(nil)
	_ Stills        = (*QRScanner)(nil)
	_ cameraTrouble = (*QRScanner)(nil)
	_ cameraTrouble = (*camera.Source)(nil)
)
