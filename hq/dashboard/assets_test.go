package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"regexp"
	"testing"
)

// The phone page's vendored decoder and its web app icons.

// jsQR is vendored from npm by make vendor-js (Makefile JSQR_VERSION);
// these digests change only on purpose, with the version.
const (
	jsQRVersion       = "1.4.0"
	jsQRSHA256        = "bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859"
	jsQRLicenseSHA256 = "c6596eb7be8581c18be736c846fb9173b69eccf6ef94c5135893ec56bd92ba08"
)

// TestVendoredJSQR holds the committed jsQR and its licence to the
// digests recorded with the version the Makefile pins.
func TestVendoredJSQR(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^JSQR_VERSION := (\S+)$`).FindSubmatch(mk)
	if m == nil || string(m[1]) != jsQRVersion {
		t.Fatalf("the Makefile pins jsQR %q, the digests here are of %s: run make vendor-js and record the new digests", m, jsQRVersion)
	}
	for name, want := range map[string]string{"jsQR.js": jsQRSHA256, "jsQR.LICENSE.txt": jsQRLicenseSHA256} {
		b, err := webFS.ReadFile("web/static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
			t.Errorf("web/static/%s has SHA-256 %x, recorded for jsQR %s: %s", name, sum, jsQRVersion, want)
		}
	}
	if b, _ := webFS.ReadFile("web/static/jsQR.js"); bytes.Contains(b, []byte("eval(")) || bytes.Contains(b, []byte("new Function")) {
		t.Error("jsQR.js evaluates strings: the scan page's CSP (no unsafe-eval) would block it")
	}
}

var updateIcons = flag.Bool("update-icons", false, "rewrite web/static/icon-*.png from drawIcon")

// TestAppIcons checks that the committed web app icons are drawIcon's
// (go test ./hq/dashboard -run TestAppIcons -update-icons rewrites them)
// and that the manifest names them.
func TestAppIcons(t *testing.T) {
	for _, size := range []int{192, 512} {
		name := fmt.Sprintf("icon-%d.png", size)
		var buf bytes.Buffer
		if err := png.Encode(&buf, drawIcon(size)); err != nil {
			t.Fatal(err)
		}
		if *updateIcons {
			if err := os.WriteFile("web/static/"+name, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := webFS.ReadFile("web/static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("web/static/%s is not drawIcon(%d): run go test ./hq/dashboard -run TestAppIcons -update-icons", name, size)
		}
		img, err := png.Decode(bytes.NewReader(got))
		if err != nil || img.Bounds().Dx() != size || img.Bounds().Dy() != size {
			t.Errorf("%s: %v, %v", name, err, img.Bounds())
		}
	}
	if *updateIcons {
		return // the embedded files are the old ones
	}
	b, err := webFS.ReadFile("web/static/manifest.webmanifest")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name     string
		StartURL string `json:"start_url"`
		Display  string
		Icons    []struct{ Src, Sizes, Type string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var sizes []string
	for _, ic := range m.Icons {
		if _, err := webFS.ReadFile("web/static/" + ic.Src[len("/static/"):]); err != nil || ic.Type != "image/png" {
			t.Errorf("manifest icon %+v: %v", ic, err)
		}
		sizes = append(sizes, ic.Sizes)
	}
	if m.Name == "" || m.StartURL != "/scan" || m.Display != "standalone" || len(sizes) != 2 || sizes[0] != "192x192" || sizes[1] != "512x512" {
		t.Errorf("manifest %+v", m)
	}
}

// drawIcon draws the app icon: the favicon's white key on the brand blue,
// edge to edge (so a launcher's mask may crop it), 4x4 supersampled.
func drawIcon(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{0x1f, 0x4f, 0x8f, 0xff}
	const ss = 4
	inKey := func(x, y float64) bool { // in units of the icon's side
		dx, dy := x-0.38, y-0.5
		r2 := dx*dx + dy*dy
		ring := r2 <= 0.17*0.17 && r2 >= 0.095*0.095
		shaft := x >= 0.52 && x <= 0.82 && y >= 0.455 && y <= 0.545
		tooth1 := x >= 0.66 && x <= 0.72 && y >= 0.5 && y <= 0.64
		tooth2 := x >= 0.76 && x <= 0.82 && y >= 0.5 && y <= 0.61
		return ring || shaft || tooth1 || tooth2
	}
	for py := range size {
		for px := range size {
			n := 0
			for sy := range ss {
				for sx := range ss {
					if inKey((float64(px)+(float64(sx)+0.5)/ss)/float64(size), (float64(py)+(float64(sy)+0.5)/ss)/float64(size)) {
						n++
					}
				}
			}
			mix := func(c uint8) uint8 { return uint8((int(c)*(ss*ss-n) + 255*n) / (ss * ss)) }
			img.SetNRGBA(px, py, color.NRGBA{mix(bg.R), mix(bg.G), mix(bg.B), 0xff})
		}
	}
	return img
}
