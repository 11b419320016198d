package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/qrlabel"
	"keycab.dev/keycab/sync/wire"
)

// enrolToken creates a single-use enrolment token for one cabinet on
// behalf of the owner, admin or site manager whose account is --as (the
// store checks the role and records the action), and prints it alone on
// stdout; with --hq, the enrolment code instead, and with --qr its QR
// code in a file.
func (m *Main) enrolToken(ctx context.Context) error {
	if m.Config.As == "" {
		return errors.New("enrol-token needs --as EMAIL: the owner or admin creating the token")
	}
	if m.Config.CodeHQ != "" {
		if err := wire.CheckHQURL(m.Config.CodeHQ); err != nil {
			return fmt.Errorf("enrol-token --hq: %w", err)
		}
	} else if m.Config.CodeQR != "" {
		return errors.New("enrol-token --qr needs --hq URL: the code names HQ")
	}
	a, err := m.st.Accounts().AccountByEmail(ctx, m.Config.As)
	if err != nil {
		return fmt.Errorf("account %s: %w", m.Config.As, err)
	}
	ms, err := m.st.Accounts().Memberships(ctx, a.ID)
	if err != nil {
		return err
	}
	var sc store.Scope
	found := 0
	for _, mb := range ms {
		if m.Config.Org == "" || mb.OrgID == m.Config.Org {
			sc, found = store.MemberScope(mb.OrgID, mb.MemberID), found+1
		}
	}
	switch {
	case found == 0:
		return fmt.Errorf("%s is not a member of organisation %q", m.Config.As, m.Config.Org)
	case found > 1:
		return fmt.Errorf("%s belongs to %d organisations: choose one with --org", m.Config.As, found)
	}
	cabs, err := m.st.ListCabinets(ctx, sc, "")
	if err != nil {
		return err
	}
	var cab *keycab.Cabinet
	for i, c := range cabs {
		if m.Config.Cabinet == "" || c.ID == m.Config.Cabinet || c.Name == m.Config.Cabinet {
			if cab != nil {
				return fmt.Errorf("more than one cabinet matches %q: name one with --cabinet ID", m.Config.Cabinet)
			}
			cab = &cabs[i]
		}
	}
	if cab == nil {
		return fmt.Errorf("no cabinet %q in organisation %s", m.Config.Cabinet, sc.OrgID())
	}
	token, t, err := m.st.CreateEnrolToken(ctx, sc, cab.ID, m.Config.TokenTTL)
	if err != nil {
		return err
	}
	m.log.Info("enrolment token created", "org", t.OrgID, "cabinet", t.CabinetID, "by", t.CreatedBy, "expires", t.ExpiresAt)
	if m.Config.CodeHQ == "" {
		fmt.Fprintln(m.stdout, token)
		return nil
	}
	code := wire.EnrolCode{HQ: m.Config.CodeHQ, Token: token}.String()
	if m.Config.CodeQR != "" {
		f, err := os.OpenFile(m.Config.CodeQR, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("enrol-token --qr: %w", err)
		}
		err = qrlabel.WritePNG(f, code, 8)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(m.Config.CodeQR)
			return fmt.Errorf("enrol-token --qr: %w", err)
		}
	}
	fmt.Fprintln(m.stdout, code)
	return nil
}
