package sqlite

import "testing"

// A memory limit splits into the page caches (a sixth for the writer, a sixth for the
// readers together) and the projector cache (a third), never below SQLite's own small
// defaults.
func TestCacheSizes(t *testing.T) {
	def := cacheSizes(0)
	if def.writerKiB != 64<<10 || def.readerKiB != 16<<10 {
		t.Errorf("defaults: %+v", def)
	}
	c := cacheSizes(192 << 20)
	total := int64(c.writerKiB)<<10 + int64(c.readerKiB*c.readers)<<10 + c.projections
	if c.writerKiB != 32<<10 || c.projections != 64<<20 || total > 128<<20 || total < 120<<20 {
		t.Errorf("192 MiB: %+v, %d MiB of caches", c, total>>20)
	}
	if tiny := cacheSizes(1 << 20); tiny.writerKiB != 2<<10 || tiny.readerKiB != 1<<10 || tiny.projections != 4<<20 {
		t.Errorf("1 MiB: %+v", tiny)
	}
}
