package qrlabel_test

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"testing"

	"keycab.dev/keycab/hardware/qr"
	"keycab.dev/keycab/internal/qrlabel"
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

// TestSheet renders a page of labels and reads every code back from the
// page at its printed size.
func TestSheet(t *testing.T) {
	var labels []qrlabel.Label
	for i := 1; i <= qrlabel.PerPage; i++ {
		labels = append(labels, qrlabel.Label{
			Token: fmt.Sprintf("KCB1-%02d-7F3A9C2E51D04B88", i), Title: fmt.Sprintf("%d Harbour View, front and back door", i), Caption: "Front office · slot " + fmt.Sprint(i),
		})
	}
	img, err := qrlabel.Sheet{Labels: labels}.Image()
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != 2480 || img.Rect.Dy() != 3508 {
		t.Fatalf("page %v, want A4 at 300 dpi", img.Rect)
	}
	codes, err := qr.NewDecoder().Decode(img.Pix, img.Rect.Dx(), img.Rect.Dy(), img.Stride)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range codes {
		got[c.Text] = true
	}
	for _, l := range labels {
		if !got[l.Token] {
			t.Errorf("label %q not readable on the sheet (read %d codes)", l.Token, len(codes))
		}
	}
	if _, err := (qrlabel.Sheet{Labels: append(labels, labels[0])}).Image(); err == nil {
		t.Fatal("a sheet took more labels than a page holds")
	}
	if os.Getenv("KEYCAB_KEEP_SHEET") != "" {
		f, _ := os.Create(os.Getenv("KEYCAB_KEEP_SHEET"))
		png.Encode(f, img)
		f.Close()
	}
}
