package main

import (
	"context"
	"fmt"
	"strings"
)

// witnessLogs prints every kiosk log HQ holds as the logs a witness must
// know to cosign them (C2SP tlog-witness: each log's origin and verifier
// key), in the YAML of the transparency-dev omniwitness's
// --additional_logs: Origin, PublicKey and URL (HQ's tlog-tiles of the
// log, under --base-url).
func (m *Main) witnessLogs(ctx context.Context) error {
	logs, err := m.st.KioskLogs().WitnessLogs(ctx)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(m.Config.Auth.BaseURL, "/")
	fmt.Fprintln(m.stdout, "Logs:")
	for _, l := range logs {
		fmt.Fprintf(m.stdout, "  - Origin: %q\n    PublicKey: %q\n", l.Origin, l.VerifierKey)
		if base != "" {
			fmt.Fprintf(m.stdout, "    URL: %q\n", base+"/v1/kiosks/"+l.KioskID+"/log/")
		}
	}
	return nil
}
