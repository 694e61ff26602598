package centre

import "slices"

// Role is what a user of the API may do.
type Role string

// Roles.
const (
	Operator    Role = "operator"     // alerts, positions
	CaseManager Role = "case_manager" // cases, their alerts
	Supervisor  Role = "supervisor"   // everything read, reports, closing what the engine never will
	Admin       Role = "admin"        // users, devices, cases
)

// Roles lists every role.
var Roles = []Role{Operator, CaseManager, Supervisor, Admin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Permission is one thing an API call does.
type Permission string

// Permissions.
const (
	ReadAlerts  Permission = "alerts.read"
	AckAlerts   Permission = "alerts.ack"
	CloseAlerts Permission = "alerts.close"
	ForceClose  Permission = "alerts.force_close"
	ReadReports Permission = "reports.read"
	ReadStatus  Permission = "status.read"
	ReadCases   Permission = "cases.read"
	WriteCases  Permission = "cases.write"
	ReadDevices Permission = "devices.read"
	ReadAudit   Permission = "audit.read"
	// ReadTracks: archived tracks and who passed a place. Which devices'
	// tracks a role sees is narrower than the permission: an offender's
	// for an operator and a supervisor, only his own cases' offenders for
	// a case manager, a protected person's only for a supervisor who
	// states a reason (see api).
	ReadTracks Permission = "tracks.read"
)

var grants = map[Role][]Permission{
	Operator:    {ReadAlerts, AckAlerts, CloseAlerts, ReadStatus, ReadDevices, ReadTracks},
	CaseManager: {ReadAlerts, ReadStatus, ReadCases, WriteCases, ReadTracks},
	Supervisor:  {ReadAlerts, AckAlerts, CloseAlerts, ForceClose, ReadReports, ReadStatus, ReadCases, ReadDevices, ReadAudit, ReadTracks},
	Admin:       {ReadStatus, ReadCases, WriteCases, ReadDevices, ReadAudit},
}

// Can reports whether role r has permission p.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }
