package privacy_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
)

// The look-alike corpus (testdata/lookalikes.jsonl) is text that is full of long random
// strings but holds no secret: ids, hashes, digests, encoded images, identifiers and
// paths, in the places tool output shows them. Whatever the redactor changes in it is a
// false positive.

type lookalike struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

func sum(r *rand.Rand) []byte {
	s := sha256.Sum256([]byte(pick(r, alnum, 16)))
	return s[:]
}

func uuid(r *rand.Rand) string {
	h := hex.EncodeToString(sum(r))
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func pngData(r *rand.Rand) string {
	img := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), sum(r)...)
	for range 3 {
		img = append(img, sum(r)...)
	}
	return base64.StdEncoding.EncodeToString(img)
}

var camelWords = []string{"get", "set", "user", "access", "token", "refresh", "expiry", "api", "key", "secret",
	"manager", "provider", "handler", "password", "reset", "request", "session", "cache", "config", "client"}

func camel(r *rand.Rand) string {
	var b strings.Builder
	for i := range 3 + r.IntN(3) {
		w := camelWords[r.IntN(len(camelWords))]
		if i > 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// lookalikeKinds make one text each; every kind is drawn the same number of times.
var lookalikeKinds = []struct {
	name string
	gen  func(r *rand.Rand) string
}{
	{"git_sha", func(r *rand.Rand) string {
		sha := hex.EncodeToString(sum(r))[:40]
		return "commit " + sha + "\nAuthor: Dev <dev@example.com>\n\n    Fix token refresh (" + sha[:7] + ")"
	}},
	{"uuid", func(r *rand.Rand) string { return `{"request_id":"` + uuid(r) + `","trace":"` + uuid(r) + `"}` }},
	{"base64_png", func(r *rand.Rand) string { return `<img src="data:image/png;base64,` + pngData(r) + `">` }},
	{"sha256", func(r *rand.Rand) string { return hex.EncodeToString(sum(r)) + "  dist/agent-trace_linux_amd64.tar.gz" }},
	{"docker_digest", func(r *rand.Rand) string {
		return "ghcr.io/acme/api@sha256:" + hex.EncodeToString(sum(r))
	}},
	{"long_hex_id", func(r *rand.Rand) string {
		return "span_id=" + hex.EncodeToString(sum(r))[:16] + " trace_id=" + hex.EncodeToString(sum(r))[:32]
	}},
	{"npm_integrity", func(r *rand.Rand) string {
		s := sha512.Sum512(sum(r))
		return `"integrity": "sha512-` + base64.StdEncoding.EncodeToString(s[:]) + `"`
	}},
	{"go_sum", func(r *rand.Rand) string {
		return fmt.Sprintf("golang.org/x/sys v0.%d.0 h1:%s", r.IntN(40), base64.StdEncoding.EncodeToString(sum(r)))
	}},
	{"semver_build", func(r *rand.Rand) string {
		return fmt.Sprintf("version v1.%d.%d-rc.%d+build.20261205.%s", r.IntN(30), r.IntN(10), r.IntN(5), hex.EncodeToString(sum(r))[:12])
	}},
	{"camel_identifier", func(r *rand.Rand) string {
		return "func (s *Server) " + camel(r) + "(ctx context.Context) error { return s." + camel(r) + "(ctx) }"
	}},
	{"file_path", func(r *rand.Rand) string {
		return "/home/dev/src/api/internal/" + camelWords[r.IntN(len(camelWords))] + "/" + camel(r) + "_test.go:42"
	}},
	{"base64_json_blob", func(r *rand.Rand) string {
		return `{"name":"logo.png","encoding":"base64","content":"` + pngData(r) + `"}`
	}},
	{"ulid_and_ksuid", func(r *rand.Rand) string {
		return "created job 01J" + pick(r, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 23) + " (ksuid " + pick(r, alnum, 27) + ")"
	}},
	{"css_class", func(r *rand.Rand) string {
		return `<div class="sk-fading-circle-` + camelWords[r.IntN(len(camelWords))] + `-container"></div>`
	}},
	{"key_word_prose", func(r *rand.Rand) string {
		return "the cache key is " + hex.EncodeToString(sum(r)) + " and the primary key was " + uuid(r)
	}},
	{"env_listing", func(r *rand.Rand) string {
		return "HOME=/home/dev\nTOKENIZERS_PARALLELISM=false\nMAX_TOKENS=4096\nGPG_KEY_ID=" +
			strings.ToUpper(hex.EncodeToString(sum(r))[:16]) + "\nSSH_AUTH_SOCK=/tmp/ssh-" + pick(r, alnum, 10) + "/agent.1234"
	}},
	{"hash_assignment", func(r *rand.Rand) string {
		return "cache_key=" + hex.EncodeToString(sum(r)) + " etag=\"" + hex.EncodeToString(sum(r))[:32] + "\""
	}},
}

func lookalikeCorpus() []lookalike {
	r := rand.New(rand.NewPCG(13, 1))
	var out []lookalike
	for range 8 {
		for _, k := range lookalikeKinds {
			out = append(out, lookalike{Kind: k.name, Text: k.gen(r)})
		}
	}
	return out
}
