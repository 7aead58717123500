// Package atomicfile writes a file so that readers see the old content or the new, never
// a mix: a temporary file in the same directory, synced, then renamed over the target.
// agent-trace's config.json and Claude Code's settings.json are written this way.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes a temp file beside path and renames it over path, so a reader
// (or a crash) sees the old file or the new one, never half of one.
func Write(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
