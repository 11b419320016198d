package api

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/internal/qrlabel"
)

// maxLabelPages bounds one label request.
const maxLabelPages = 20

// labels answers printable QR labels for key sets: those of a site, those
// homed in a cabinet's slots, or a list. Their token texts exist only at
// issue, so printing issues new ones: every chosen key set's tokens are
// rotated in one transaction (the store's rules: managers of the site),
// and labels printed before stop working. It is a POST for that reason.
//
// The answer is A4 at 300 dpi: a PDF with one image per page by default,
// which prints as it is whatever the page count; "format": "png" answers
// the single page as PNG and refuses more than one page.
func (s *API) labels(w http.ResponseWriter, r *http.Request) error {
	var in LabelsRequest
	if err := hq.Decode(r, &in); err != nil {
		return err
	}
	chosen := 0
	for _, b := range []bool{in.SiteID != "", in.CabinetID != "", len(in.KeySetIDs) > 0} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return keycab.Errorf(keycab.EINVALID, "give one of site_id, cabinet_id or key_set_ids")
	}
	if in.Format != "" && in.Format != "pdf" && in.Format != "png" {
		return keycab.Errorf(keycab.EINVALID, "format: want pdf or png")
	}
	labels, ids, err := s.labelSet(r, in.SiteID, in.CabinetID, in.KeySetIDs)
	if err != nil {
		return err
	}
	if len(labels) == 0 {
		return keycab.Errorf(keycab.EINVALID, "no key sets to label")
	}
	pages := (len(labels) + qrlabel.PerPage - 1) / qrlabel.PerPage
	if pages > maxLabelPages {
		return keycab.Errorf(keycab.EINVALID, "%d labels make %d pages; ask for at most %d", len(labels), pages, maxLabelPages)
	}
	if in.Format == "png" && pages > 1 {
		return keycab.Errorf(keycab.EINVALID, "%d labels make %d pages: ask for the PDF", len(labels), pages)
	}
	texts, _, err := s.Store.RotateTokens(r.Context(), principalOf(r.Context()).Scope(), ids)
	if err != nil {
		return err
	}
	for i := range labels {
		labels[i].Token = texts[i]
	}
	var imgs []*image.Gray
	for p := 0; p < pages; p++ {
		img, err := qrlabel.Sheet{Labels: labels[p*qrlabel.PerPage : min(len(labels), (p+1)*qrlabel.PerPage)]}.Image()
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	var buf bytes.Buffer
	if in.Format == "png" {
		if err := png.Encode(&buf, imgs[0]); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/png")
	} else {
		if err := writePDF(&buf, imgs); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/pdf")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="keycab-labels.`+map[bool]string{true: "png", false: "pdf"}[in.Format == "png"]+`"`)
	w.Write(buf.Bytes())
	return nil
}

// labelSet returns the labels (without tokens) and key set ids chosen.
func (s *API) labelSet(r *http.Request, siteID, cabinetID string, keySetIDs []string) ([]qrlabel.Label, []string, error) {
	ctx, sc := r.Context(), principalOf(r.Context()).Scope()
	siteNames := map[string]string{}
	siteName := func(id string) (string, error) {
		if n, ok := siteNames[id]; ok {
			return n, nil
		}
		st, err := s.Store.GetSite(ctx, sc, id)
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
		c, err := s.Store.GetCabinet(ctx, sc, cabinetID)
		if err != nil {
			return nil, nil, err
		}
		slots, err := s.Store.ListSlots(ctx, sc, c.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, sl := range slots {
			if sl.KeySetID == "" {
				continue
			}
			k, err := s.Store.GetKeySet(ctx, sc, sl.KeySetID)
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
		ks, err := s.Store.ListKeySets(ctx, sc, siteID)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range ks {
			add(k, name)
		}
	default:
		for _, id := range keySetIDs {
			k, err := s.Store.GetKeySet(ctx, sc, id)
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

// writePDF writes 8-bit gray A4 pages as a PDF 1.4 file: per page a page
// object, a content stream that scales the page's image to A4, and the
// image, zlib-compressed (FlateDecode). Nothing else: no fonts, no text.
func writePDF(w io.Writer, pages []*image.Gray) error {
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
