package agenttrace

import "context"

// TableStats is one table's share of a store's disk: its rows and the bytes of its data
// and of its indexes.
type TableStats struct {
	Store      string `json:"store"` // "sqlite", "postgres", "clickhouse"
	Table      string `json:"table"`
	Rows       int64  `json:"rows"`
	Bytes      int64  `json:"bytes"`       // the table's own pages or parts
	IndexBytes int64  `json:"index_bytes"` // its indexes'
}

// DiskStats is how a store uses its disk: every table, how many events it holds, and
// the bytes in all (FreeBytes of them reusable without growing, as after a deletion).
type DiskStats struct {
	Tables    []TableStats `json:"tables"`
	Events    int64        `json:"events"`
	Bytes     int64        `json:"bytes"`
	FreeBytes int64        `json:"free_bytes"`
}

// BytesPerEvent is the store's bytes divided by its events, 0 without events.
func (d DiskStats) BytesPerEvent() float64 {
	if d.Events == 0 {
		return 0
	}
	return float64(d.Bytes) / float64(d.Events)
}

// DiskStatser is a store that can say how it uses its disk (`db stats`).
type DiskStatser interface {
	DiskStats(ctx context.Context) (DiskStats, error)
}
