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
)

var grants = map[Role][]Permission{
	Operator:    {ReadAlerts, AckAlerts, CloseAlerts, ReadStatus, ReadDevices},
	CaseManager: {ReadAlerts, ReadStatus, ReadCases, WriteCases},
	Supervisor:  {ReadAlerts, AckAlerts, CloseAlerts, ForceClose, ReadReports, ReadStatus, ReadCases, ReadDevices, ReadAudit},
	Admin:       {ReadStatus, ReadCases, WriteCases, ReadDevices, ReadAudit},
}

// Can reports whether role r has permission p.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }
