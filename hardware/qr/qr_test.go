package qr_test

import (
	"fmt"
	"image"
	"keycab.dev/keycab/internal/qrlabel"
	"testing"

	"keycab.dev/keycab/hardware/qr"
)

func MustDecode(tb testing.TB, img *image.Gray) []string {
	tb.Helper()
	codes, err := qr.NewDecoder().Decode(img.Pix, img.Rect.Dx(), img.Rect.Dy(), img.Stride)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c.Text)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, text := range []string{"KEY:0001", "https://keycab.dev/k/8f3a9c", "Ünïcødé key fob"} {
		img, err := qrlabel.Image(text, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := MustDecode(t, img); len(got) != 1 || got[0] != text {
			t.Fatalf("decoded %q, want %q", got, text)
		}
	}
}

func TestSeveralCodesPerFrame(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	texts := []string{"KEY:A", "KEY:B", "KEY:C"}
	for i, text := range texts {
		if _, err := qrlabel.Draw(img.Pix, 640, 480, img.Stride, text, 40+i*200, 150, 5); err != nil {
			t.Fatal(err)
		}
	}
	got := MustDecode(t, img)
	if len(got) != 3 || got[0] != "KEY:A" || got[1] != "KEY:B" || got[2] != "KEY:C" {
		t.Fatalf("decoded %q, want %q", got, texts)
	}
}

func TestNothingFound(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	if got := MustDecode(t, img); len(got) != 0 {
		t.Fatalf("decoded %q from a blank frame", got)
	}
	if _, err := qr.NewDecoder().Decode(make([]byte, 10), 320, 240, 320); err == nil {
		t.Fatal("short plane accepted")
	}
}

// TestDecoderReuseAcrossSizes decodes frames of changing sizes and strides
// with one Decoder, whose scratch buffers must not leak from one frame into
// the next.
func TestDecoderReuseAcrossSizes(t *testing.T) {
	dec := qr.NewDecoder()
	for i, sz := range [][3]int{{640, 480, 640}, {1280, 720, 1344}, {180, 150, 200}, {640, 480, 704}, {30, 30, 30}} {
		w, h, stride := sz[0], sz[1], sz[2]
		y := make([]byte, stride*h)
		for k := range y {
			y[k] = 190
		}
		text := fmt.Sprintf("KEY:%d", i)
		module := 3
		if w < 40 {
			text, module = "", 0
		}
		if text != "" {
			if _, err := qrlabel.Draw(y, w, h, stride, text, 20, 20, module); err != nil {
				t.Fatal(err)
			}
		}
		codes, err := dec.Decode(y, w, h, stride)
		if err != nil {
			t.Fatal(err)
		}
		if text == "" {
			if len(codes) != 0 {
				t.Fatalf("%dx%d: decoded %v from a blank frame", w, h, codes)
			}
			continue
		}
		if len(codes) != 1 || codes[0].Text != text {
			t.Fatalf("%dx%d stride %d: decoded %v, want %q", w, h, stride, codes, text)
		}
	}
}
