package qrlabel_test

import (
	"bytes"
	"image/png"
	"testing"

	"keycab.dev/keycab/hardware/qr"
	"keycab.dev/keycab/qrlabel"
)

// TestRoundTrip draws labels and reads them back with the kiosk's decoder.
func TestRoundTrip(t *testing.T) {
	for _, text := range []string{"KCB1-DEMO-FOB-01", "otpauth://totp/keycab:ana@example.com?secret=JBSWY3DPEHPK3PXP&issuer=keycab"} {
		var buf bytes.Buffer
		if err := qrlabel.WritePNG(&buf, text, 4); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		g, err := qrlabel.Image(text, 4)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != g.Bounds() {
			t.Fatalf("PNG %v, image %v", img.Bounds(), g.Bounds())
		}
		codes, err := qr.NewDecoder().Decode(g.Pix, g.Rect.Dx(), g.Rect.Dy(), g.Stride)
		if err != nil || len(codes) != 1 || codes[0].Text != text {
			t.Fatalf("decoded %+v %v, want %q", codes, err, text)
		}
	}
	if _, err := qrlabel.Matrix(""); err == nil {
		t.Fatal("encoded empty text")
	}
}
