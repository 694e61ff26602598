package centre

import (
	"time"

	"github.com/proxmon/proxmon"
)

// Delivery is one EVENTS record handed to a dispatch terminal: the event,
// its EVENTS sequence (the terminal's cursor) and when EVENTS stored it.
// Redelivered says the terminal may have been handed it before (its
// previous answer was lost, or a restart); the terminal shows an event
// once whatever the redeliveries, by its id.
type Delivery struct {
	Event       proxmon.Event `json:"event"`
	Seq         uint64        `json:"seq"`
	Stored      time.Time     `json:"stored"`
	Redelivered bool          `json:"redelivered,omitempty"`
}
