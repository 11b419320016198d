package camera

import (
	"context"
	"errors"
	"fmt"

	"github.com/blackjack/webcam"
)

// V4L2 pixel formats (fourcc).
const (
	FormatYUYV  = 0x56595559 // 'YUYV'
	FormatMJPEG = 0x47504A4D // 'MJPG'
)

// Webcam opens a V4L2 capture device such as /dev/video0 or
// /dev/v4l/by-id/usb-...-video-index0.
//
// Not covered by tests: no V4L2 device exists on the build machines (the
// vivid test driver needs a kernel module). The YUYV and MJPEG conversions
// it uses are tested.
type Webcam struct {
	Device        string
	Format        uint32 // FormatYUYV or FormatMJPEG
	Width, Height int
	// WaitSeconds bounds each wait for a buffer; default 2.
	WaitSeconds uint32
}

// Open starts streaming; it implements SourceConfig.Open.
func (w Webcam) Open(ctx context.Context) (Stream, error) {
	cam, err := webcam.Open(w.Device)
	if err != nil {
		return nil, fmt.Errorf("open webcam %s: %w", w.Device, err)
	}
	format, width, height, err := cam.SetImageFormat(webcam.PixelFormat(w.Format), uint32(w.Width), uint32(w.Height))
	if err != nil {
		cam.Close()
		return nil, fmt.Errorf("webcam %s: set format: %w", w.Device, err)
	}
	if uint32(format) != FormatYUYV && uint32(format) != FormatMJPEG {
		cam.Close()
		return nil, fmt.Errorf("webcam %s: device chose format %#x, want YUYV or MJPEG", w.Device, uint32(format))
	}
	if err := cam.StartStreaming(); err != nil {
		cam.Close()
		return nil, fmt.Errorf("webcam %s: %w", w.Device, err)
	}
	wait := w.WaitSeconds
	if wait == 0 {
		wait = 2
	}
	return &webcamStream{cam: cam, dev: w.Device, format: uint32(format), width: int(width), height: int(height), wait: wait}, nil
}

type webcamStream struct {
	cam           *webcam.Webcam
	dev           string
	format        uint32
	width, height int
	wait          uint32
}

func (s *webcamStream) ReadFrame() (Frame, error) {
	for {
		err := s.cam.WaitForFrame(s.wait)
		var timeout *webcam.Timeout
		if errors.As(err, &timeout) {
			return Frame{}, fmt.Errorf("webcam %s: no buffer in %ds", s.dev, s.wait)
		}
		if err != nil {
			return Frame{}, fmt.Errorf("webcam %s: %w", s.dev, err)
		}
		buf, index, err := s.cam.GetFrame()
		if err != nil {
			return Frame{}, fmt.Errorf("webcam %s: %w", s.dev, err)
		}
		if len(buf) == 0 {
			s.cam.ReleaseFrame(index)
			continue
		}
		var f Frame
		if s.format == FormatMJPEG {
			f, err = DecodeJPEG(buf)
		} else {
			f, err = YUYVFrame(buf, s.width, s.height)
		}
		s.cam.ReleaseFrame(index)
		return f, err
	}
}

func (s *webcamStream) Close() error { return s.cam.Close() }

// YUYVFrame extracts the luma plane of a packed YUYV (YUV 4:2:2) image.
func YUYVFrame(buf []byte, width, height int) (Frame, error) {
	if len(buf) < width*height*2 {
		return Frame{}, fmt.Errorf("yuyv frame of %d bytes, want %d", len(buf), width*height*2)
	}
	y := make([]byte, width*height)
	for i := range y {
		y[i] = buf[2*i]
	}
	return Frame{Width: width, Height: height, Stride: width, Y: y}, nil
}

// Interface guards.
var _ Stream = (*webcamStream)(nil)
