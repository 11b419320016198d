package wire

import "time"

// Minor is the minor protocol version this build speaks (see the package
// doc): it is sent as "v" in every message. Minor 1: HQ's one error body
// and clock_offset_ms; minor 2: touchscreen changes; minor 3: remote
// actions; minor 4: personal texts; minor 5: the record lifecycle
// (erasure, legal holds, retention) in the bundle; minor 6: custody
// changes made at HQ in the bundle; minor 8: a badge linked at a
// touchscreen travels as a personal text (field "badge") beside a
// reference in its entry; minor 7: the site's and members' languages in
// the bundle; minor 9: offline passes (wire.Pass, signed by the config
// key) and the revoked ones' ids in the bundle (Config.RevokedPasses);
// minor 10: external witnesses' cosignatures in the push and heartbeat
// answers (Witnessed); minor 11: camera stills beside the push
// (PushRequest.Stills).
const Minor = 11

// PathPrefix is where every kiosk endpoint lives.
const PathPrefix = "/v1/kiosk/"

// The endpoints, under PathPrefix.
const (
	PathEnrol     = PathPrefix + "enrol"
	PathPush      = PathPrefix + "push"
	PathConfig    = PathPrefix + "config"
	PathHeartbeat = PathPrefix + "heartbeat"
	// Minor version 3: remote actions.
	PathActions   = PathPrefix + "actions"
	PathActionAck = PathPrefix + "actions/ack"
)

// MaxBody bounds a request body after decompression.
const MaxBody = 32 << 20

// MaxPushEntries bounds the entries of one push.
const MaxPushEntries = 10000

// ReplayWindow is how far a request's date may be from HQ's clock.
const ReplayWindow = 5 * time.Minute

// EnrolRequest asks HQ to enrol a kiosk.
type EnrolRequest struct {
	V         int    `json:"v"`
	Token     string `json:"token"`
	PublicKey []byte `json:"public_key"` // raw Ed25519 public key (base64 in JSON)
	Name      string `json:"name,omitempty"`
	Software  string `json:"software,omitempty"`
}

// EnrolResponse is HQ's answer to an enrolment.
type EnrolResponse struct {
	V         int    `json:"v"`
	KioskID   string `json:"kiosk_id"`
	OrgID     string `json:"org_id"`
	CabinetID string `json:"cabinet_id"`
	// Origin is the name of the kiosk's log and note key.
	Origin string `json:"origin"`
	// CosignerKey verifies HQ's cosignatures (cosignature/v1);
	// ConfigKey verifies config bundles (Ed25519 note key).
	CosignerKey string `json:"cosigner_key"`
	ConfigKey   string `json:"config_key"`
}

// PushRequest sends leaves [OldSize, OldSize+len(Entries)) and the kiosk's
// signed checkpoint of that size.
type PushRequest struct {
	V          int      `json:"v"`
	OldSize    int64    `json:"old_size"`
	Entries    [][]byte `json:"entries"`    // leaf bytes (base64 in JSON)
	Checkpoint []byte   `json:"checkpoint"` // signed note (base64 in JSON)
	// Texts are the personal texts the entries reference, as the kiosk
	// still keeps them (minor version 4; see the package doc).
	Texts []PersonalText `json:"texts,omitempty"`
	// Stills are the camera stills the entries' hashes name, as the
	// kiosk still keeps them (minor version 11; see the package doc).
	Stills []Still `json:"stills,omitempty"`
}

// Still is the JPEG whose SHA-256 (audit.StillHash) the entry at Index
// (in the log) holds in Detail[audit.StillKey]; at most audit.MaxStill
// bytes.
type Still struct {
	Index int64  `json:"index"`
	JPEG  []byte `json:"jpeg"` // base64 in JSON
}

// PersonalText is the personal text behind the reference that field
// ("recipient" or "notes", or from minor version 8 "badge": the hex badge
// hash of a badge.linked change) of the entry at Index (in the log)
// carries: audit.PersonalRef(Salt, Text) is that reference.
type PersonalText struct {
	Index int64  `json:"index"`
	Field string `json:"field"`
	Salt  []byte `json:"salt"` // 32 bytes (base64 in JSON)
	Text  string `json:"text"` // at most audit.MaxPersonalText bytes of UTF-8, no NUL
}

// PushResponse answers a push: Cosigned on 200; Size (HQ's) and Cosigned
// (HQ's last cosigned checkpoint, if any) on 409 and 422.
type PushResponse struct {
	V        int    `json:"v"`
	Size     int64  `json:"size"`
	Cosigned []byte `json:"cosigned,omitempty"`
	Error    string `json:"error,omitempty"`
	// Witnessed (minor 10): the newest checkpoint of the kiosk's log each
	// external witness HQ's operator names has cosigned, each the kiosk's
	// signed checkpoint with the witness's cosignature lines.
	Witnessed [][]byte `json:"witnessed,omitempty"`
}

// ConfigResponse carries a signed config bundle.
type ConfigResponse struct {
	V       int    `json:"v"`
	Version int64  `json:"version"`
	Bundle  []byte `json:"bundle"` // signed note, see package doc
}

// Heartbeat is the kiosk's periodic report. HQ refuses (400) one whose
// fields are out of range; see the package doc.
type Heartbeat struct {
	V             int      `json:"v"`
	Door          string   `json:"door,omitempty"`   // "open", "closed", "" unknown
	Alarms        []string `json:"alarms,omitempty"` // open alarms: keycab.Alarm* kinds, at most MaxAlarms
	LogSize       int64    `json:"log_size"`
	CosignedSize  int64    `json:"cosigned_size"` // <= log_size and <= the size HQ holds
	ConfigVersion int64    `json:"config_version"`
	Software      string   `json:"software,omitempty"`       // at most MaxSoftware bytes of printable text
	DiskFree      int64    `json:"disk_free,omitempty"`      // bytes
	TemperatureMC int64    `json:"temperature_mc,omitempty"` // millidegrees Celsius, MinTemperatureMC to MaxTemperatureMC
	// ClockOffsetMS is HQ's clock minus the kiosk's, in milliseconds, as
	// the kiosk measured it from HQ's answers (minor version 1); at most
	// MaxClockOffsetMS either way.
	ClockOffsetMS int64 `json:"clock_offset_ms,omitempty"`
}

// Bounds of a heartbeat's fields.
const (
	MaxAlarms        = 64
	MaxSoftware      = 200
	MinTemperatureMC = -273_150
	MaxTemperatureMC = 200_000
	MaxClockOffsetMS = 200 * 366 * 24 * 3600 * 1000 // two centuries: a clock at 1970 is about 57 years off
)

// HeartbeatResponse tells the kiosk what HQ holds.
type HeartbeatResponse struct {
	V             int   `json:"v"`
	Size          int64 `json:"size"`
	ConfigVersion int64 `json:"config_version"`
	Quarantined   bool  `json:"quarantined,omitempty"`
	// Witnessed (minor 10): as in PushResponse.
	Witnessed [][]byte `json:"witnessed,omitempty"`
}

// Error is the body of an error answer of an HQ of minor version 0.
// From minor version 1, HQ answers every error with keycab.ErrorBody,
// the one error body of all its edges; a kiosk reads both (see the
// package doc, Errors).
type Error struct {
	V     int    `json:"v"`
	Code  string `json:"code"` // a keycab error code
	Error string `json:"error"`
}
