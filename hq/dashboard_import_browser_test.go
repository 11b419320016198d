package hq_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The import page in a real browser at 1366 and 390 px: a file with a
// bad line is previewed with the line named and nothing stored; the
// fixed file, pasted, previews clean and imports; no page is wider than
// the screen.
func TestBrowserImport(t *testing.T) {
	browser := newBrowser(t)
	e := newDashEnv(t, engines()[0], nil, true)
	owner, sc := ownerTab(t, browser, e)
	ctx := context.Background()
	site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour Flats", TimeZone: "Europe/London"}})
	MustNoErr(t, err)

	bad := "name,email,role,sites,badge_kind,badge_code\n" +
		"Nia Newcomer,nia@quayside.test,staff," + site.Name + ",rfid,00AA11\n" +
		"Otto Odd,otto@quayside.test,wizard," + site.Name + ",,\n"
	file := filepath.Join(t.TempDir(), "people.csv")
	MustNoErr(t, os.WriteFile(file, []byte(bad), 0o600))

	for _, width := range []int64{1366, 390} {
		w := map[int64]string{1366: "wide", 390: "narrow"}[width]
		owner.do(chromedp.EmulateViewport(width, 900))
		owner.open("/people")
		owner.do(chromedp.Click(chromedp.CSS(`[data-testid=import-people]`)))
		owner.MustSee("Import from CSV")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the import page is %d px wider than the screen", w, overflow)
		}
		owner.shot("50-import-" + w)
		owner.do(chromedp.SetUploadFiles(chromedp.CSS(`input[name=file]`), []string{file}))
		owner.submit(`form[data-testid=import-form] button.primary`)
		owner.MustSee("1 with errors", "wizard", "Nothing was stored")
		if overflow := owner.scrollOverflow(); overflow > 0 {
			t.Errorf("%s: the preview is %d px wider than the screen", w, overflow)
		}
		owner.shot("51-import-errors-" + w)
	}
	ms, err := e.st.ListMembers(ctx, sc)
	MustNoErr(t, err)
	for _, m := range ms {
		if m.Name == "Nia Newcomer" {
			t.Fatal("a preview with an error stored a member")
		}
	}

	owner.open("/import?kind=people")
	owner.do(chromedp.SetValue(chromedp.CSS(`textarea[name=csv]`), strings.Replace(bad, "wizard", "contractor", 1)))
	owner.submit(`form[data-testid=import-form] button.primary`)
	owner.MustSee("Nia Newcomer (staff), badge rfid", "Otto Odd (contractor)", "Import 2 lines")
	owner.shot("52-import-preview")
	owner.submit(`form[data-testid=import-apply] button.primary`)
	owner.MustSee("Imported. Every line of the file is stored.")
	owner.open("/people")
	owner.MustSee("Nia Newcomer", "Otto Odd")
	if m, err := e.st.FindBadge(ctx, sc, "00AA11"); err != nil || m.Name != "Nia Newcomer" {
		t.Fatalf("Nia's badge: %v %v", m.Name, err)
	}
}
