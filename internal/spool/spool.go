// Package spool is the hook's durable, local queue of events waiting for delivery.
//
// It is a bbolt file (<home>/spool.db). bbolt locks the whole file per process, so every
// user opens it, runs one short transaction and closes it again: a hook process appends
// and exits, the deliverer peeks a batch, closes, sends it over the network, then opens
// again to acknowledge. Processes queue on <home>/spool.db.lock first, polled every few
// hundred microseconds, because bbolt itself retries its lock only every 50 ms. When the lock cannot be had quickly, the hook writes its events to
// an inbox file instead (see WriteInbox) and the deliverer folds them in later.
//
// Events are removed only when acknowledged (after the collector answered 2xx) or moved
// to the dead-letter bucket with the reason; at the size cap the oldest tier-3 bodies go
// first, then the oldest events, and every drop is counted in the spool's metadata.
package spool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/agent-trace/agent-trace/event"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultMaxBytes caps the pending events' size when the config names no cap.
const DefaultMaxBytes int64 = 1 << 30

// DefaultLockTimeout is how long a hook waits for the file lock before using the inbox.
const DefaultLockTimeout = 100 * time.Millisecond

// maxDeadLetters bounds the dead-letter bucket; older letters are dropped (and counted).
const maxDeadLetters = 10000

// DroppedPayload replaces a tier-3 payload that was dropped at the size cap.
var DroppedPayload = json.RawMessage(`{"agent_trace_dropped":"spool full"}`)

var (
	// ErrLocked means another process held the spool longer than the lock timeout.
	ErrLocked = errors.New("spool is locked by another process")
	// ErrCorrupt means the spool file is damaged; Open moves such a file aside itself,
	// so callers only see it from a transaction that hit damage Open could not detect.
	ErrCorrupt = errors.New("spool file is corrupt")
)

var (
	bucketPending = []byte("pending")
	bucketDead    = []byte("dead")
	bucketState   = []byte("state")
	bucketMeta    = []byte("meta")
	keyMeta       = []byte("m")
	allBuckets    = [][]byte{bucketPending, bucketDead, bucketState, bucketMeta}
)

// Options tune a Spool.
type Options struct {
	// LockTimeout bounds the wait for bbolt's file lock (DefaultLockTimeout when zero).
	LockTimeout time.Duration
	// MaxBytes caps the size of the pending events (DefaultMaxBytes when zero).
	MaxBytes int64
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// Logf receives diagnostics such as a corrupt file being moved aside (dropped when nil).
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Spool is an open spool file. It holds bbolt's exclusive file lock until Close, so keep
// it open only for the few transactions a step needs.
type Spool struct {
	db   *bolt.DB
	lock *lockFile
	path string
	opts Options
}

// Item is one pending event.
type Item struct {
	Key   uint64          // position in capture order
	Raw   json.RawMessage // the event as stored
	Event event.Event     // Raw decoded; zero when Raw does not decode
}

// DeadLetter is an event the collector rejected permanently.
type DeadLetter struct {
	Key    uint64          `json:"-"`
	Time   time.Time       `json:"time"`
	Reason string          `json:"reason"`
	Event  json.RawMessage `json:"event"`
}

// Meta is the spool's bookkeeping, kept in one small record.
type Meta struct {
	PendingBytes    int64     `json:"pending_bytes"`
	DroppedBodies   int64     `json:"dropped_bodies,omitempty"`   // tier-3 payloads dropped at the cap
	DroppedEvents   int64     `json:"dropped_events,omitempty"`   // whole events dropped at the cap
	DroppedLetters  int64     `json:"dropped_letters,omitempty"`  // dead letters beyond maxDeadLetters
	BodyScanKey     uint64    `json:"body_scan_key,omitempty"`    // keys up to here hold no tier-3 body
	EnrichedKey     uint64    `json:"enriched_key,omitempty"`     // the deliverer has enriched keys up to here
	LastDelivery    time.Time `json:"last_delivery,omitzero"`     // last 2xx
	LastError       string    `json:"last_error,omitempty"`       // cleared when delivery recovers
	LastErrorAt     time.Time `json:"last_error_at,omitzero"`     //
	Stopped         string    `json:"stopped,omitempty"`          // why delivery stopped (401/403) until a flush or init
	RetryAt         time.Time `json:"retry_at,omitzero"`          // background delivery waits until then
	Failures        int       `json:"failures,omitempty"`         // consecutive failed deliveries
	CorruptMovedTo  []string  `json:"corrupt_moved_to,omitempty"` // damaged spool files moved aside
	DeliveredEvents int64     `json:"delivered_events,omitempty"` // acknowledged by the collector, all time
}

// Open opens (or creates) the spool at path.
//
// A damaged file (bad meta pages, truncated, unreadable buckets) is moved aside to
// path+".corrupt-<time>", reported through Options.Logf and in Meta.CorruptMovedTo, and a
// fresh spool is created so capture continues. When another process holds the file longer
// than the lock timeout, Open returns an error wrapping ErrLocked.
func Open(path string, opts Options) (*Spool, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, err := acquire(path+".lock", opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	// The lock is held from here to Close, across moving a corrupt file aside, so two
	// processes never both decide the same file is corrupt and move a fresh one.
	s, err := open(path, opts, lock)
	if err == nil || !errors.Is(err, ErrCorrupt) {
		if err != nil {
			lock.release()
		}
		return s, err
	}
	moved, qerr := quarantine(path, opts.Now())
	if qerr != nil {
		lock.release()
		return nil, fmt.Errorf("open spool: move corrupt file aside: %w (after %v)", qerr, err)
	}
	opts.Logf("spool %s is corrupt (%v); moved it to %s and started a fresh spool", path, err, moved)
	s, err = open(path, opts, lock)
	if err != nil {
		lock.release()
		return nil, err
	}
	if err := s.updateMeta(func(m *Meta) { m.CorruptMovedTo = append(m.CorruptMovedTo, moved) }); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func quarantine(path string, now time.Time) (string, error) {
	moved := path + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(path, moved); err != nil {
		return "", err
	}
	return moved, nil
}

// open opens the bbolt file; the caller holds lock.
func open(path string, opts Options, lock *lockFile) (s *Spool, err error) {
	// A damaged file can make bbolt read past the end of its mapping or trip its
	// internal assertions; both become panics here and are reported as corruption.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var db *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			s, err = nil, fmt.Errorf("open spool: %w: %v", ErrCorrupt, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open spool: %w", ErrLocked)
		}
		if isCorruption(err) {
			return nil, fmt.Errorf("open spool: %w: %v", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("open spool: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open spool: %w", err)
	}
	// Check in a read transaction, and create the buckets in a write transaction only
	// when one is missing: each write transaction costs two fdatasyncs on the hook's
	// hot path.
	missing := false
	err = db.View(func(tx *bolt.Tx) error {
		if fi.Size() < tx.Size() {
			return fmt.Errorf("%w: file is %d bytes, its meta page says %d", ErrCorrupt, fi.Size(), tx.Size())
		}
		for _, name := range allBuckets {
			b := tx.Bucket(name)
			if b == nil {
				missing = true
				continue
			}
			// Touch both ends of each bucket so damaged branch pages show up now, not
			// in the middle of a later transaction.
			c := b.Cursor()
			c.First()
			c.Last()
		}
		return nil
	})
	if err == nil && missing {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("%w: bucket %s: %v", ErrCorrupt, name, err)
				}
			}
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open spool: %w", err)
	}
	return &Spool{db: db, path: path, opts: opts, lock: lock}, nil
}

func isCorruption(err error) bool {
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) ||
		errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrInvalidMapping) {
		return true
	}
	return bytes.Contains([]byte(err.Error()), []byte("file size too small"))
}

// Close releases the file lock.
func (s *Spool) Close() error {
	defer s.lock.release()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}

// MoveAside renames a spool found corrupt by a transaction (damage Open's checks did not
// reach) to path+".corrupt-<time>", under the spool's lock, and returns the new name;
// the next Open creates a fresh spool.
func MoveAside(path string, opts Options) (string, error) {
	opts = opts.withDefaults()
	lock, err := acquire(path+".lock", opts.LockTimeout)
	if err != nil {
		return "", fmt.Errorf("move spool aside: %w", err)
	}
	defer lock.release()
	moved, err := quarantine(path, opts.Now())
	if err != nil {
		return "", fmt.Errorf("move spool aside: %w", err)
	}
	opts.Logf("spool %s is corrupt; moved it to %s and started a fresh spool", path, moved)
	return moved, nil
}

// moveAside closes a spool found corrupt mid-transaction and renames the file while
// still holding the lock, so no other process writes into the damaged file meanwhile.
func (s *Spool) moveAside() (string, error) {
	defer s.lock.release()
	s.db.Close()
	return quarantine(s.path, s.opts.Now())
}

// Path is the spool file's path.
func (s *Spool) Path() string { return s.path }

// update runs fn in a write transaction, turning a panic from a damaged page into
// ErrCorrupt instead of crashing the hook.
func (s *Spool) update(op string, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: %v", op, ErrCorrupt, r)
		}
	}()
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *Spool) view(op string, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: %v", op, ErrCorrupt, r)
		}
	}()
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func readMeta(tx *bolt.Tx) (Meta, error) {
	var m Meta
	v := tx.Bucket(bucketMeta).Get(keyMeta)
	if v == nil {
		return m, nil
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("%w: meta record: %v", ErrCorrupt, err)
	}
	return m, nil
}

func writeMeta(tx *bolt.Tx, m Meta) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyMeta, v)
}

func (s *Spool) updateMeta(fn func(m *Meta)) error {
	return s.update("update spool meta", func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		fn(&m)
		return writeMeta(tx, m)
	})
}

// UpdateMeta changes the spool's bookkeeping in one transaction.
func (s *Spool) UpdateMeta(fn func(m *Meta)) error { return s.updateMeta(fn) }

// Meta returns the spool's bookkeeping.
func (s *Spool) Meta() (Meta, error) {
	var m Meta
	err := s.view("read spool meta", func(tx *bolt.Tx) error {
		var err error
		m, err = readMeta(tx)
		return err
	})
	return m, err
}

// Append adds events to the end of the queue in one transaction and returns the meta
// record as it stands after the write (the hook reads RetryAt from it).
func (s *Spool) Append(evts ...event.Event) (Meta, error) {
	raws := make([][]byte, 0, len(evts))
	for i := range evts {
		raw, err := json.Marshal(&evts[i])
		if err != nil {
			return Meta{}, fmt.Errorf("append to spool: encode event %s: %w", evts[i].ID, err)
		}
		raws = append(raws, raw)
	}
	return s.AppendRaw(raws, nil, nil)
}

// AppendRaw adds already-encoded events and, in the same transaction, sets state
// records (see State; a nil value deletes) and applies mutate to the meta record (when
// not nil), so derived events and the position they were derived up to are saved
// together or not at all.
func (s *Spool) AppendRaw(raws [][]byte, state map[string][]byte, mutate func(m *Meta)) (Meta, error) {
	var meta Meta
	err := s.update("append to spool", func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		var need int64
		for _, r := range raws {
			need += int64(len(r))
		}
		pending := tx.Bucket(bucketPending)
		// Keys only grow, so a full leaf never takes another key: split it full, not
		// half-full (bbolt's default), or a backlog's file is three times its data.
		pending.FillPercent = 1.0
		if m.PendingBytes+need > s.opts.MaxBytes {
			if err := makeRoom(pending, &m, m.PendingBytes+need-s.opts.MaxBytes); err != nil {
				return err
			}
		}
		for _, r := range raws {
			seq, err := pending.NextSequence()
			if err != nil {
				return err
			}
			if err := pending.Put(itob(seq), r); err != nil {
				return err
			}
			m.PendingBytes += int64(len(r))
		}
		st := tx.Bucket(bucketState)
		for k, v := range state {
			if v == nil {
				err = st.Delete([]byte(k))
			} else {
				err = st.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		if mutate != nil {
			mutate(&m)
		}
		meta = m
		return writeMeta(tx, m)
	})
	return meta, err
}

// makeRoom frees at least excess bytes of pending events: first by replacing the oldest
// tier-3 payloads with DroppedPayload, then by deleting the oldest events.
func makeRoom(pending *bolt.Bucket, m *Meta, excess int64) error {
	type change struct {
		key []byte
		val []byte // nil: delete
	}
	var changes []change
	var freed int64
	c := pending.Cursor()
	k, v := c.First()
	if m.BodyScanKey > 0 {
		k, v = c.Seek(itob(m.BodyScanKey + 1))
	}
	for ; k != nil && freed < excess; k, v = c.Next() {
		m.BodyScanKey = btoi(k)
		var e event.Event
		if json.Unmarshal(v, &e) != nil || e.Tier < event.TierFull || len(e.Payload) <= len(DroppedPayload) {
			continue
		}
		e.Payload = DroppedPayload
		nv, err := json.Marshal(&e)
		if err != nil {
			continue
		}
		changes = append(changes, change{key: append([]byte(nil), k...), val: nv})
		freed += int64(len(v) - len(nv))
		m.DroppedBodies++
	}
	// bbolt cursors must not be used across writes, so the changes are applied after
	// the scan; the deletions below re-read through a fresh cursor.
	for _, ch := range changes {
		if err := pending.Put(ch.key, ch.val); err != nil {
			return err
		}
	}
	m.PendingBytes -= freed
	if freed >= excess {
		return nil
	}
	var dels [][]byte
	c = pending.Cursor()
	for k, v := c.First(); k != nil && freed < excess; k, v = c.Next() {
		dels = append(dels, append([]byte(nil), k...))
		freed += int64(len(v))
		m.PendingBytes -= int64(len(v))
		m.DroppedEvents++
	}
	for _, k := range dels {
		if err := pending.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Peek returns up to max of the oldest pending events, stopping before maxBytes of
// encoded events (but always returning at least one when any is pending).
func (s *Spool) Peek(max, maxBytes int) ([]Item, error) {
	return s.PeekThrough(max, maxBytes, math.MaxUint64)
}

// PeekThrough is Peek limited to keys up to last, so the deliverer sends only events it
// has already enriched.
func (s *Spool) PeekThrough(max, maxBytes int, last uint64) ([]Item, error) {
	var items []Item
	err := s.view("peek spool", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		size := 0
		for k, v := c.First(); k != nil && len(items) < max; k, v = c.Next() {
			key := btoi(k)
			if key > last {
				break
			}
			if len(items) > 0 && size+len(v) > maxBytes {
				break
			}
			size += len(v)
			it := Item{Key: key, Raw: append(json.RawMessage(nil), v...)}
			if json.Unmarshal(v, &it.Event) != nil {
				it.Event = event.Event{}
			}
			items = append(items, it)
		}
		return nil
	})
	return items, err
}

// Scan calls fn for each pending event with a key after `after`, in order, and returns
// the last key it saw (after when none). fn's item is only valid during the call.
func (s *Spool) Scan(after uint64, fn func(it Item) error) (uint64, error) {
	last := after
	err := s.view("scan spool", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.Seek(itob(after + 1)); k != nil; k, v = c.Next() {
			it := Item{Key: btoi(k), Raw: v}
			if json.Unmarshal(v, &it.Event) != nil {
				it.Event = event.Event{}
			}
			last = it.Key
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	})
	return last, err
}

// Ack removes delivered events and records the delivery time.
func (s *Spool) Ack(keys ...uint64) error {
	return s.update("ack spool events", func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		pending := tx.Bucket(bucketPending)
		for _, k := range keys {
			kb := itob(k)
			v := pending.Get(kb)
			if v == nil {
				continue
			}
			m.PendingBytes -= int64(len(v))
			m.DeliveredEvents++
			if err := pending.Delete(kb); err != nil {
				return err
			}
		}
		if m.PendingBytes < 0 {
			m.PendingBytes = 0
		}
		m.LastDelivery = s.opts.Now()
		return writeMeta(tx, m)
	})
}

// DeadLetter moves pending events to the dead-letter bucket with the reason.
func (s *Spool) DeadLetter(items []Item, reason string) error {
	return s.update("dead-letter spool events", func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		pending, dead := tx.Bucket(bucketPending), tx.Bucket(bucketDead)
		for _, it := range items {
			kb := itob(it.Key)
			raw := it.Raw
			if v := pending.Get(kb); v != nil {
				raw = append(json.RawMessage(nil), v...)
				m.PendingBytes -= int64(len(v))
				if err := pending.Delete(kb); err != nil {
					return err
				}
			}
			if !json.Valid(raw) {
				// Keep an undecodable event as a JSON string so the letter stays readable.
				raw, _ = json.Marshal(string(raw))
			}
			letter, err := json.Marshal(DeadLetter{Time: s.opts.Now(), Reason: reason, Event: raw})
			if err != nil {
				return err
			}
			seq, err := dead.NextSequence()
			if err != nil {
				return err
			}
			if err := dead.Put(itob(seq), letter); err != nil {
				return err
			}
		}
		if m.PendingBytes < 0 {
			m.PendingBytes = 0
		}
		for n := dead.Stats().KeyN; n > maxDeadLetters; n-- {
			k, _ := dead.Cursor().First()
			if err := dead.Delete(k); err != nil {
				return err
			}
			m.DroppedLetters++
		}
		return writeMeta(tx, m)
	})
}

// DeadLetters returns the dead letters, oldest first.
func (s *Spool) DeadLetters() ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.view("read dead letters", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
			var d DeadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("%w: dead letter %d: %v", ErrCorrupt, btoi(k), err)
			}
			d.Key = btoi(k)
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// State returns the state record stored under key (nil when none). The deliverer keeps
// transcript read positions and git heads here.
func (s *Spool) State(key string) ([]byte, error) {
	var out []byte
	err := s.view("read spool state", func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketState).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// StatePrefix returns every state record whose key starts with prefix.
func (s *Spool) StatePrefix(prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.view("read spool state", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketState).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			out[string(k)] = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// SetState stores state records; a nil value deletes its key.
func (s *Spool) SetState(state map[string][]byte) error {
	return s.update("write spool state", func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketState)
		for k, v := range state {
			var err error
			if v == nil {
				err = st.Delete([]byte(k))
			} else {
				err = st.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Stats summarises the spool for `status`.
type Stats struct {
	Pending       int
	OldestPending time.Time // capture time of the oldest pending event
	Bytes         int64     // encoded size of the pending events
	FileBytes     int64     // size of the spool file
	DeadLetters   int
	Meta
}

// Stats reads the numbers `status` shows.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	err := s.view("read spool stats", func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		st.Meta = m
		st.Bytes = m.PendingBytes
		st.FileBytes = tx.Size()
		pending := tx.Bucket(bucketPending)
		st.Pending = pending.Stats().KeyN
		st.DeadLetters = tx.Bucket(bucketDead).Stats().KeyN
		if _, v := pending.Cursor().First(); v != nil {
			var e struct {
				Time time.Time `json:"time"`
			}
			if json.Unmarshal(v, &e) == nil {
				st.OldestPending = e.Time
			}
		}
		return nil
	})
	return st, err
}

// ClearStop forgets a recorded delivery stop (a 401 or 403) and the backoff, because a
// person asked to deliver now or gave new credentials. A spool that does not exist yet
// has nothing to clear.
func ClearStop(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s, err := Open(path, Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("clear delivery stop: %w", err)
	}
	defer s.Close()
	return s.UpdateMeta(func(m *Meta) { m.Stopped, m.RetryAt = "", time.Time{} })
}
