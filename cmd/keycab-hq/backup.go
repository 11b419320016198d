package main

import (
	"context"
	"errors"
	"fmt"

	"keycab.dev/keycab/hq/store"
)

// backup copies HQ's embedded database to --out while HQ may keep serving.
func (m *Main) backup(ctx context.Context) error {
	if m.Config.BackupOut == "" {
		return errors.New("backup needs --out FILE")
	}
	if err := store.Backup(ctx, m.Config.DB, m.Config.BackupOut); err != nil {
		return err
	}
	m.log.Info("database backed up", "to", m.Config.BackupOut)
	fmt.Fprintf(m.stdout, "backed up %s to %s\n", m.Config.DB, m.Config.BackupOut)
	return nil
}
