package hq_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/multi/qrcode"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
)

var pdfImage = regexp.MustCompile(`/Width (\d+) /Height (\d+) /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length (\d+) >>\nstream\n`)

// pdfPages reads back the page images of a PDF writePDF made.
func pdfPages(tb testing.TB, pdf []byte) []*image.Gray {
	tb.Helper()
	var out []*image.Gray
	for _, m := range pdfImage.FindAllSubmatchIndex(pdf, -1) {
		w, _ := strconv.Atoi(string(pdf[m[2]:m[3]]))
		h, _ := strconv.Atoi(string(pdf[m[4]:m[5]]))
		n, _ := strconv.Atoi(string(pdf[m[6]:m[7]]))
		zr, err := zlib.NewReader(bytes.NewReader(pdf[m[1] : m[1]+n]))
		MustNoErr(tb, err)
		pix, err := io.ReadAll(zr)
		MustNoErr(tb, err)
		if len(pix) != w*h {
			tb.Fatalf("page image of %d bytes for %dx%d", len(pix), w, h)
		}
		out = append(out, &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)})
	}
	return out
}

// qrTexts decodes every QR code on a page with gozxing, at half the
// resolution (each module is still 3 or more pixels; gozxing is slow on
// whole 300 dpi pages).
func qrTexts(tb testing.TB, img image.Image) []string {
	tb.Helper()
	b := img.Bounds()
	half := image.NewGray(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range half.Rect.Dy() {
		for x := range half.Rect.Dx() {
			sum := 0
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				sum += int(color.GrayModel.Convert(img.At(b.Min.X+2*x+d[0], b.Min.Y+2*y+d[1])).(color.Gray).Y)
			}
			half.Pix[y*half.Stride+x] = uint8(sum / 4)
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(half)
	MustNoErr(tb, err)
	res, err := qrcode.NewQRCodeMultiReader().DecodeMultiple(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	MustNoErr(tb, err)
	var out []string
	for _, r := range res {
		out = append(out, r.GetText())
	}
	return out
}

// MustLabelTokens checks that texts are exactly one valid token of each
// key set in want, and returns them by key set.
func (e *env) MustLabelTokens(tb testing.TB, owner *user, texts []string, want []string) map[string]string {
	tb.Helper()
	sc := store.MemberScope(owner.orgID, owner.memberID)
	got := map[string]string{}
	for _, text := range texts {
		k, err := e.st.LookupToken(context.Background(), sc, text)
		if err != nil {
			tb.Fatalf("label code %q is no valid token: %v", text, err)
		}
		if got[k.ID] != "" {
			tb.Fatalf("two labels for key set %s", k.ID)
		}
		got[k.ID] = text
	}
	for _, id := range want {
		if got[id] == "" {
			tb.Errorf("no label for key set %s (read %d codes)", id, len(texts))
		}
	}
	if len(got) != len(want) {
		tb.Errorf("%d labels, want %d", len(got), len(want))
	}
	return got
}

// Label sheets carry a fresh token for every chosen key set, readable by
// gozxing off the returned pages; printing again revokes the printed ones.
func TestLabelSheets(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		w := e.MustWorld(t, "Acme")
		o := w.owner.access
		cabKS := []string{w.ks[0].ID, w.ks[1].ID, w.ks[2].ID}

		r := MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{"cabinet_id": w.cab.ID, "format": "png"}), 200)
		if r.header.Get("Content-Type") != "image/png" {
			t.Fatalf("content type %q", r.header.Get("Content-Type"))
		}
		img, err := png.Decode(bytes.NewReader([]byte(r.raw)))
		MustNoErr(t, err)
		if img.Bounds().Dx() != 2480 || img.Bounds().Dy() != 3508 {
			t.Fatalf("page %v, want A4 at 300 dpi", img.Bounds())
		}
		first := e.MustLabelTokens(t, w.owner, qrTexts(t, img), cabKS)

		// 20 key sets at the site make two pages: a PDF.
		site := append([]string(nil), cabKS...)
		for i := range 17 {
			site = append(site, MustStatus(t, e.do(t, "POST", "/v1/key-sets", o, map[string]any{"site_id": w.site.ID, "label": fmt.Sprintf("Flat %d", i+1)}), 201).str("id"))
		}
		MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{"site_id": w.site.ID, "format": "png"}), 400)
		r = MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{"site_id": w.site.ID}), 200)
		if r.header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("content type %q", r.header.Get("Content-Type"))
		}
		pages := pdfPages(t, []byte(r.raw))
		if len(pages) != 2 {
			t.Fatalf("%d pages, want 2", len(pages))
		}
		var texts []string
		for _, p := range pages {
			texts = append(texts, qrTexts(t, p)...)
		}
		second := e.MustLabelTokens(t, w.owner, texts, site)
		for ks, text := range first {
			if second[ks] == text {
				t.Fatalf("key set %s kept its token", ks)
			}
			if _, err := e.st.LookupToken(context.Background(), store.MemberScope(w.owner.orgID, w.owner.memberID), text); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("the first sheet's token of %s still works: %v", ks, err)
			}
		}
		mustRenderPDF(t, []byte(r.raw), len(site), second)

		// A chosen list, and bad requests.
		r = MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{"key_set_ids": []string{site[5], site[19]}}), 200)
		e.MustLabelTokens(t, w.owner, qrTexts(t, pdfPages(t, []byte(r.raw))[0]), []string{site[5], site[19]})
		MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{}), 400)
		MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{"site_id": w.site.ID, "cabinet_id": w.cab.ID}), 400)
		MustStatus(t, e.do(t, "POST", "/v1/labels", o, map[string]any{"site_id": w.site.ID, "format": "tiff"}), 400)
	})
}

// mustRenderPDF has Ghostscript, an independent PDF reader, render the
// sheet at 300 dpi and checks every code reads back from its rendering.
func mustRenderPDF(t *testing.T, pdf []byte, n int, want map[string]string) {
	t.Helper()
	gs := testenv.MustHaveTool(t, "gs", "ghostscript")
	dir := t.TempDir()
	in := filepath.Join(dir, "labels.pdf")
	MustNoErr(t, os.WriteFile(in, pdf, 0o644))
	out, err := exec.Command(gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray", "-r300",
		"-sOutputFile="+filepath.Join(dir, "page%d.png"), in).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("gs: %v: %s", err, out)
	}
	got := map[string]bool{}
	for p := 1; ; p++ {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("page%d.png", p)))
		if err != nil {
			break
		}
		img, err := png.Decode(f)
		f.Close()
		MustNoErr(t, err)
		if img.Bounds().Dx() != 2480 || img.Bounds().Dy() != 3508 {
			t.Fatalf("gs page %d is %v, want A4 at 300 dpi", p, img.Bounds())
		}
		for _, text := range qrTexts(t, img) {
			got[text] = true
		}
	}
	for ks, text := range want {
		if !got[text] {
			t.Errorf("gs rendering: no readable label for key set %s", ks)
		}
	}
	if len(got) != n {
		t.Errorf("gs rendering: %d codes, want %d", len(got), n)
	}
}
