package centre

import (
	"errors"
	"time"

	"github.com/proxmon/proxmon"
)

// Errors of the cases in force (the CASES bucket).
var (
	ErrNoCase = errors.New("no such case")
	// ErrCaseChanged: the case was written or deleted since the revision
	// the change was based on; look again.
	ErrCaseChanged = errors.New("the case changed meanwhile")
)

// Case operations in a case's history.
const (
	CasePut    = "put"
	CaseDelete = "delete"
)

// CaseVersion is one revision of a case in the CASES bucket: the case and
// its devices as written (none for a deletion), without their MQTT
// secrets, which are written and never read back. Actor, Role and Reason
// say who made the change and why, when it was made through the API
// (they come from its audit entry, which names the revision); a change
// written straight to NATS (proxmon cases apply) has none.
type CaseVersion struct {
	ID        string           `json:"id"`
	Revision  uint64           `json:"revision"`
	Time      time.Time        `json:"time"`
	Operation string           `json:"operation"`
	Case      *proxmon.Case    `json:"case,omitempty"`
	Devices   []proxmon.Device `json:"devices,omitempty"`
	Actor     string           `json:"actor,omitempty"`
	Role      Role             `json:"role,omitempty"`
	Reason    string           `json:"reason,omitempty"`
}
