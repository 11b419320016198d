// Package labels prints QR labels for key sets: A4 sheets at 300 dpi, as
// a PDF (one image per page, which prints as it is whatever the page
// count) or, for one page, a PNG. Their token texts exist only at issue,
// so printing issues new ones: every chosen key set's tokens are rotated
// in one transaction (the store's rules: managers of the site), and
// labels printed before stop working. The JSON API (POST /v1/labels) and
// the dashboard's labels page both print through Print.
package labels

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/qrlabel"
)

// MaxPages bounds one print.
const MaxPages = 20

// Choice is what to print: exactly one of a site's key sets, the key sets
// homed in a cabinet's slots, or a list; Format is "pdf" (the default) or
// "png".
type Choice struct {
	SiteID    string
	CabinetID string
	KeySetIDs []string
	Format    string
}

// Sheets are printed labels, ready to send.
type Sheets struct {
	ContentType string
	Filename    string
	Body        []byte
	Labels      int
}

// Print rotates the chosen key sets' tokens and lays their labels out on
// A4 sheets.
func Print(ctx context.Context, st *store.Store, sc store.Scope, c Choice) (Sheets, error) {
	n := 0
	for _, b := range []bool{c.SiteID != "", c.CabinetID != "", len(c.KeySetIDs) > 0} {
		if b {
			n++
		}
	}
	if n != 1 {
		return Sheets{}, keycab.Errorf(keycab.EINVALID, "give one of site_id, cabinet_id or key_set_ids")
	}
	if c.Format != "" && c.Format != "pdf" && c.Format != "png" {
		return Sheets{}, keycab.Errorf(keycab.EINVALID, "format: want pdf or png")
	}
	labels, ids, err := chosen(ctx, st, sc, c.SiteID, c.CabinetID, c.KeySetIDs)
	if err != nil {
		return Sheets{}, err
	}
	if len(labels) == 0 {
		return Sheets{}, keycab.Errorf(keycab.EINVALID, "no key sets to label")
	}
	pages := (len(labels) + qrlabel.PerPage - 1) / qrlabel.PerPage
	if pages > MaxPages {
		return Sheets{}, keycab.Errorf(keycab.EINVALID, "%d labels make %d pages; ask for at most %d", len(labels), pages, MaxPages)
	}
	if c.Format == "png" && pages > 1 {
		return Sheets{}, keycab.Errorf(keycab.EINVALID, "%d labels make %d pages: ask for the PDF", len(labels), pages)
	}
	texts, _, err := st.RotateTokens(ctx, sc, ids)
	if err != nil {
		return Sheets{}, err
	}
	for i := range labels {
		labels[i].Token = texts[i]
	}
	var imgs []*image.Gray
	for p := 0; p < pages; p++ {
		img, err := qrlabel.Sheet{Labels: labels[p*qrlabel.PerPage : min(len(labels), (p+1)*qrlabel.PerPage)]}.Image()
		if err != nil {
			return Sheets{}, err
		}
		imgs = append(imgs, img)
	}
	var buf bytes.Buffer
	out := Sheets{ContentType: "application/pdf", Filename: "keycab-labels.pdf", Labels: len(labels)}
	if c.Format == "png" {
		if err := png.Encode(&buf, imgs[0]); err != nil {
			return Sheets{}, err
		}
		out.ContentType, out.Filename = "image/png", "keycab-labels.png"
	} else if err := WritePDF(&buf, imgs); err != nil {
		return Sheets{}, err
	}
	out.Body = buf.Bytes()
	return out, nil
}

// chosen returns the labels (without tokens) and key set ids chosen.
func chosen(ctx context.Context, st *store.Store, sc store.Scope, siteID, cabinetID string, keySetIDs []string) ([]qrlabel.Label, []string, error) {
	siteNames := map[string]string{}
	siteName := func(id string) (string, error) {
		if n, ok := siteNames[id]; ok {
			return n, nil
		}
		st, err := st.GetSite(ctx, sc, id)
		siteNames[id] = st.Name
		return st.Name, err
	}
	var labels []qrlabel.Label
	var ids []string
	add := func(k keycab.KeySet, caption string) {
		for _, id := range ids {
			if id == k.ID {
				return
			}
		}
		labels = append(labels, qrlabel.Label{Title: k.Label, Caption: caption})
		ids = append(ids, k.ID)
	}
	switch {
	case cabinetID != "":
		c, err := st.GetCabinet(ctx, sc, cabinetID)
		if err != nil {
			return nil, nil, err
		}
		slots, err := st.ListSlots(ctx, sc, c.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, sl := range slots {
			if sl.KeySetID == "" {
				continue
			}
			k, err := st.GetKeySet(ctx, sc, sl.KeySetID)
			if err != nil {
				return nil, nil, err
			}
			add(k, fmt.Sprintf("%s · %s", c.Name, keycab.SlotName(sl.Number)))
		}
	case siteID != "":
		name, err := siteName(siteID)
		if err != nil {
			return nil, nil, err
		}
		ks, err := st.ListKeySets(ctx, sc, siteID)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range ks {
			add(k, name)
		}
	default:
		for _, id := range keySetIDs {
			k, err := st.GetKeySet(ctx, sc, id)
			if err != nil {
				return nil, nil, err
			}
			name, err := siteName(k.SiteID)
			if err != nil {
				return nil, nil, err
			}
			add(k, name)
		}
	}
	return labels, ids, nil
}

// WritePDF writes 8-bit gray A4 pages as a PDF 1.4 file: per page a page
// object, a content stream that scales the page's image to A4, and the
// image, zlib-compressed (FlateDecode). Nothing else: no fonts, no text.
func WritePDF(w io.Writer, pages []*image.Gray) error {
	bw := bufio.NewWriter(w)
	n := 0 // bytes written
	var offsets []int
	put := func(format string, args ...any) {
		k, _ := fmt.Fprintf(bw, format, args...)
		n += k
	}
	object := func() { // starts the next object
		offsets = append(offsets, n)
		put("%d 0 obj\n", len(offsets))
	}
	put("%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n")
	object()
	put("<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	object()
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 3+3*i)
	}
	put("<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", strings.Join(kids, " "), len(pages))
	const a4w, a4h = "595.276", "841.89" // 210 x 297 mm in points
	for i, img := range pages {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			off := img.PixOffset(b.Min.X, y)
			zw.Write(img.Pix[off : off+b.Dx()])
		}
		if err := zw.Close(); err != nil {
			return err
		}
		content := "q " + a4w + " 0 0 " + a4h + " 0 0 cm /Im0 Do Q\n"
		object()
		put("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n",
			a4w, a4h, 5+3*i, 4+3*i)
		object()
		put("<< /Length %d >>\nstream\n%sendstream\nendobj\n", len(content), content)
		object()
		put("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n",
			b.Dx(), b.Dy(), z.Len())
		k, _ := bw.Write(z.Bytes())
		n += k
		put("\nendstream\nendobj\n")
	}
	xref := n
	put("xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		put("%010d 00000 n \n", o)
	}
	put("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return bw.Flush()
}
