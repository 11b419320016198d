package kiosk

import (
	"context"
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
	_ cameraTrouble = (*QRScanner)(nil)
	_ cameraTrouble = (*camera.Source)(nil)
)
