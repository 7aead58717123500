// Package privacy decides what of Claude Code's data is kept: the privacy tier's per-field
// allow-lists (1 metadata, 2 prompts and tool details, 3 outputs and responses) and the
// secret redaction applied to every string that remains, at every tier. The hook, the
// deliverer (transcript text, commit messages) and the server (data it receives from
// elsewhere) all use it, so it imports nothing but the event envelope.
package privacy
