// Package proxmonv1 is the Go code generated from proto/proxmon/v1: the
// protobuf messages devices exchange with proxmon over MQTT (Fix, Status,
// Warning, Command) and the Event form published on NATS.
//
// These types stay at the edges: adapters convert them to and from the
// domain types of package proxmon, and nothing below the adapters imports
// this package. encode.go, written by hand, encodes domain fixes and
// statuses as devices send them, for every program that plays a device.
// Regenerate the rest with `make proto`; CI fails when the committed
// code differs from what the .proto files generate.
package proxmonv1
