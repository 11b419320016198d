package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // qr decode reads JPEG
	_ "image/png"
	"io"
	"keycab.dev/keycab/internal/qrlabel"
	"os"
	"strconv"
	"strings"

	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/qr"
)

func qrCommand() *command {
	return &command{
		name:    "qr",
		summary: "make and decode QR labels",
		sub: []*command{
			{
				name:    "decode",
				summary: "print every QR code in PNG, JPEG or raw yuv420 files",
				usage:   "[--size WxH] FILE...",
				flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
					size := fs.String("size", "", "frame size WxH of raw yuv420 files (.yuv)")
					return func(ctx context.Context, e *env, args []string) error {
						if len(args) == 0 {
							fmt.Fprintln(e.stderr, "qr decode: no files")
							return errUsage
						}
						return qrDecode(ctx, e, *size, args)
					}
				},
			},
			{
				name:    "make",
				summary: "write TEXT as a QR code PNG",
				usage:   "TEXT -o FILE.png",
				flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
					out := fs.String("o", "", "output PNG file (required)")
					module := fs.Int("module", 8, "pixels per module")
					return func(ctx context.Context, e *env, args []string) error {
						if len(args) != 1 || *out == "" {
							fmt.Fprintln(e.stderr, "qr make: want one TEXT and -o FILE.png")
							return errUsage
						}
						var buf bytes.Buffer
						if err := qrlabel.WritePNG(&buf, args[0], *module); err != nil {
							return err
						}
						if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
							return fmt.Errorf("qr make: %w", err)
						}
						return nil
					}
				},
			},
		},
	}
}

func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("bad size %q, want WxH", s)
	}
	return w, h, nil
}

func qrDecode(ctx context.Context, e *env, size string, files []string) error {
	dec := qr.NewDecoder()
	failed := false
	for _, name := range files {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		texts, err := decodeFile(dec, name, size)
		if err != nil {
			fmt.Fprintf(e.stderr, "keycab: qr decode %s: %v\n", name, err)
			failed = true
			continue
		}
		if len(texts) == 0 {
			fmt.Fprintf(e.stdout, "%s\t-\n", name)
		}
		for _, t := range texts {
			fmt.Fprintf(e.stdout, "%s\t%s\n", name, t)
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// decodeFile returns the distinct codes in a file, in order of appearance.
func decodeFile(dec *qr.Decoder, name, size string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var frames []camera.Frame
	if strings.HasSuffix(strings.ToLower(name), ".yuv") || size != "" {
		if size == "" {
			return nil, errors.New("raw yuv420 needs --size WxH")
		}
		w, h, err := parseSize(size)
		if err != nil {
			return nil, err
		}
		st, err := camera.NewYUV420(f, w, h, nil)
		if err != nil {
			return nil, err
		}
		for {
			fr, err := st.ReadFrame()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read yuv420 frame %d: %w", len(frames)+1, err)
			}
			frames = append(frames, fr)
		}
	} else {
		img, _, err := image.Decode(f)
		if err != nil {
			return nil, err
		}
		frames = append(frames, lumaOf(img))
	}
	var out []string
	seen := map[string]bool{}
	for _, fr := range frames {
		codes, err := dec.Decode(fr.Y, fr.Width, fr.Height, fr.Stride)
		if err != nil {
			return nil, err
		}
		for _, c := range codes {
			if !seen[c.Text] {
				seen[c.Text] = true
				out = append(out, c.Text)
			}
		}
	}
	return out, nil
}

// lumaOf returns an image's luma plane, straight from its pixel buffer.
func lumaOf(img image.Image) camera.Frame {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	switch m := img.(type) {
	case *image.Gray:
		return camera.Frame{Width: w, Height: h, Stride: m.Stride, Y: m.Pix[m.PixOffset(r.Min.X, r.Min.Y):]}
	case *image.YCbCr:
		return camera.Frame{Width: w, Height: h, Stride: m.YStride, Y: m.Y[m.YOffset(r.Min.X, r.Min.Y):]}
	case *image.RGBA:
		return rgbaLuma(m.Pix, m.Stride, w, h, 4)
	case *image.NRGBA:
		return rgbaLuma(m.Pix, m.Stride, w, h, 4)
	}
	// Paletted and 16-bit images: convert once.
	y := make([]byte, w*h)
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			cr, cg, cb, _ := img.At(r.Min.X+px, r.Min.Y+py).RGBA()
			y[py*w+px] = byte((19595*cr + 38470*cg + 7471*cb + 1<<15) >> 24)
		}
	}
	return camera.Frame{Width: w, Height: h, Stride: w, Y: y}
}

func rgbaLuma(pix []byte, stride, w, h, bpp int) camera.Frame {
	y := make([]byte, w*h)
	for py := 0; py < h; py++ {
		row := pix[py*stride:]
		for px := 0; px < w; px++ {
			r, g, b := uint32(row[px*bpp]), uint32(row[px*bpp+1]), uint32(row[px*bpp+2])
			y[py*w+px] = byte((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
		}
	}
	return camera.Frame{Width: w, Height: h, Stride: w, Y: y}
}
