package sim

import (
	"context"
	"keycab.dev/keycab/internal/qrlabel"
	"sync"
	"time"

	"keycab.dev/keycab/hardware/camera"
)

// Camera is the simulated camera: a camera.Stream showing whatever QR codes
// Show put in front of it, rendered into a grey luma frame.
type Camera struct {
	Width, Height int           // default 640x480
	Module        int           // pixels per module, default 4
	Interval      time.Duration // pause between frames, default none

	mu     sync.Mutex
	texts  []string
	frame  []byte
	dirty  bool
	closed bool
}

// NewCamera returns a camera looking at an empty scene.
func NewCamera() *Camera { return &Camera{Width: 640, Height: 480, Module: 4, dirty: true} }

// Show puts the given codes in front of the camera, side by side; no
// argument clears the scene.
func (c *Camera) Show(texts ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts = append([]string(nil), texts...)
	c.dirty = true
}

// Open implements camera.SourceConfig.Open.
func (c *Camera) Open(context.Context) (camera.Stream, error) {
	c.mu.Lock()
	c.closed = false
	c.mu.Unlock()
	return c, nil
}

// ReadFrame implements camera.Stream.
func (c *Camera) ReadFrame() (camera.Frame, error) {
	if c.Interval > 0 {
		time.Sleep(c.Interval)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty {
		c.frame = make([]byte, c.Width*c.Height)
		for i := range c.frame {
			c.frame[i] = 180
		}
		x := c.Module * 6
		for _, t := range c.texts {
			side, err := qrlabel.Draw(c.frame, c.Width, c.Height, c.Width, t, x, c.Height/4, c.Module)
			if err != nil {
				return camera.Frame{}, err
			}
			x += side + c.Module*4
		}
		c.dirty = false
	}
	y := append([]byte(nil), c.frame...)
	return camera.Frame{Width: c.Width, Height: c.Height, Stride: c.Width, Y: y}, nil
}

// Close implements camera.Stream.
func (c *Camera) Close() error { return nil }

// Interface guards.
var _ camera.Stream = (*Camera)(nil)
