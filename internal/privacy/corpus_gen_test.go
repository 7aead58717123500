package privacy_test

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strings"
)

// The secret corpus (testdata/secrets.jsonl) is generated, not hand-written: every kind of
// secret in every context it is met in, with random but well-formed values from a fixed
// seed, so the file is the same on every run and a new kind or context is one line here.
// Regenerate it with
//
//	go test ./internal/privacy -run TestSecretCorpusFile -update-corpus

// A corpusEntry is one secret in one context. Secret is what must not survive; Text is
// what the redactor is given.
type corpusEntry struct {
	Kind    string `json:"kind"`
	Context string `json:"context"`
	Secret  string `json:"secret"`
	Text    string `json:"text"`
}

// A secretKind makes one kind of secret: value is how it is written (a URL, a PEM file,
// a connection string), secret the part of it that must go.
type secretKind struct {
	name  string
	key   string // the variable it is conventionally kept in
	label string // how a person names it in a sentence
	// keyed: the value alone is not recognisable (a random password), only its name or
	// the header it is sent in says what it is.
	keyed  bool
	header string // the HTTP header line prefix it travels in; "" for Authorization: Bearer
	gen    func(r *rand.Rand) (value, secret string)
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	hexLower    = "0123456789abcdef"
	b64chars    = alnum + "+/"
	urlsafe     = alnum + "_-"
	pwChars     = alnum + "!#$%^*()-_+=.~"
)

func pick(r *rand.Rand, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

func digits(r *rand.Rand, n int) string { return pick(r, "0123456789", n) }

// token makes a kind whose value is its secret: prefix and random tail.
func token(name, key, label, prefix string, tail func(r *rand.Rand) string) secretKind {
	return secretKind{name: name, key: key, label: label, gen: func(r *rand.Rand) (string, string) {
		s := prefix + tail(r)
		return s, s
	}}
}

func fixed(set string, n int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string { return pick(r, set, n) }
}

// password is what people choose when told to use symbols: never a quote, space or
// backslash, which would change how each context has to write it.
func password(r *rand.Rand) string {
	return pick(r, alnum, 4) + pick(r, pwChars, 10+r.IntN(10)) + pick(r, "0123456789", 2)
}

func pemKind(name, key, label, typ, first string, lines int) secretKind {
	return secretKind{name: name, key: key, label: label, gen: func(r *rand.Rand) (string, string) {
		body := []string{first + pick(r, b64chars, 64-len(first))}
		for range lines - 1 {
			body = append(body, pick(r, b64chars, 64))
		}
		body = append(body, pick(r, b64chars, 20)+"==")
		secret := strings.Join(body, "\n")
		return "-----BEGIN " + typ + "-----\n" + secret + "\n-----END " + typ + "-----\n", secret
	}}
}

// dbURL is a connection URL whose password is the secret.
func dbURL(name, key, format string) secretKind {
	return secretKind{name: name, key: key, label: "database URL", gen: func(r *rand.Rand) (string, string) {
		pw := password(r)
		return strings.Replace(format, "PW", url.PathEscape(pw), 1), url.PathEscape(pw)
	}}
}

func jwt(r *rand.Rand) (string, string) {
	enc := base64.RawURLEncoding.EncodeToString
	h := enc([]byte(`{"alg":"RS256","kid":"` + pick(r, hexLower, 16) + `","typ":"JWT"}`))
	p := enc([]byte(`{"sub":"` + digits(r, 12) + `","email":"dev@example.com","iat":1764936000,"exp":1764939600}`))
	s := h + "." + p + "." + pick(r, urlsafe, 86)
	return s, s
}

func gcpServiceAccount(r *rand.Rand) (string, string) {
	body := []string{"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + pick(r, b64chars, 32)}
	for range 5 {
		body = append(body, pick(r, b64chars, 64))
	}
	secret := strings.Join(body, "\n")
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme-prod-" + digits(r, 6),
		"private_key_id": pick(r, hexLower, 40),
		"private_key":    "-----BEGIN PRIVATE KEY-----\n" + secret + "\n-----END PRIVATE KEY-----\n",
		"client_email":   "deployer@acme-prod.iam.gserviceaccount.com", "client_id": digits(r, 21),
	})
	return string(sa), secret
}

func azureStorage(r *rand.Rand) (string, string) {
	k := pick(r, b64chars, 86) + "=="
	return "DefaultEndpointsProtocol=https;AccountName=acmeprod" + digits(r, 3) + ";AccountKey=" + k + ";EndpointSuffix=core.windows.net", k
}

func slackWebhook(r *rand.Rand) (string, string) {
	s := "T" + pick(r, upperDigits, 8) + "/B" + pick(r, upperDigits, 10) + "/" + pick(r, alnum, 24)
	return "https://hooks.slack.com/services/" + s, s
}

func basicAuth(r *rand.Rand) (string, string) {
	s := base64.StdEncoding.EncodeToString([]byte("deploy:" + password(r)))
	return "Basic " + s, s
}

func keyed(k secretKind) secretKind { k.keyed = true; return k }

func withHeader(k secretKind, h string) secretKind { k.header = h; return k }

// secretKinds are the kinds the corpus holds, the ones agent-trace users paste, print and
// configure most.
func secretKinds() []secretKind {
	return []secretKind{
		token("aws_access_key_id", "AWS_ACCESS_KEY_ID", "AWS access key id", "AKIA", fixed(upperDigits, 16)),
		keyed(token("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "AWS secret access key", "", fixed(b64chars, 40))),
		token("github_pat_classic", "GITHUB_TOKEN", "GitHub token", "ghp_", fixed(alnum, 36)),
		token("github_pat_fine_grained", "GH_TOKEN", "GitHub token", "github_pat_11", func(r *rand.Rand) string {
			return pick(r, upperDigits, 20) + "_" + pick(r, alnum, 59)
		}),
		token("github_app_token", "GITHUB_APP_TOKEN", "installation token", "ghs_", fixed(alnum, 36)),
		token("gitlab_pat", "GITLAB_TOKEN", "GitLab token", "glpat-", fixed(urlsafe, 20)),
		token("slack_bot_token", "SLACK_BOT_TOKEN", "Slack bot token", "xoxb-", func(r *rand.Rand) string {
			return digits(r, 12) + "-" + digits(r, 13) + "-" + pick(r, alnum, 24)
		}),
		token("slack_user_token", "SLACK_USER_TOKEN", "Slack user token", "xoxp-", func(r *rand.Rand) string {
			return digits(r, 12) + "-" + digits(r, 12) + "-" + digits(r, 13) + "-" + pick(r, hexLower, 32)
		}),
		{name: "slack_webhook", key: "SLACK_WEBHOOK_URL", label: "Slack webhook", gen: slackWebhook},
		token("stripe_live_key", "STRIPE_SECRET_KEY", "Stripe key", "sk_live_51", fixed(alnum, 97)),
		token("stripe_test_key", "STRIPE_TEST_KEY", "Stripe test key", "sk_test_51", fixed(alnum, 97)),
		withHeader(token("openai_key", "OPENAI_API_KEY", "OpenAI key", "sk-proj-", func(r *rand.Rand) string {
			return pick(r, urlsafe, 74) + "T3BlbkFJ" + pick(r, urlsafe, 74)
		}), "Authorization: Bearer "),
		withHeader(token("anthropic_key", "ANTHROPIC_API_KEY", "Anthropic key", "sk-ant-api03-", func(r *rand.Rand) string {
			return pick(r, urlsafe, 93) + "AA"
		}), "x-api-key: "),
		withHeader(token("google_api_key", "GOOGLE_API_KEY", "Google API key", "AIza", fixed(urlsafe, 35)), "X-Goog-Api-Key: "),
		token("google_oauth_client_secret", "GOOGLE_CLIENT_SECRET", "OAuth client secret", "GOCSPX-", fixed(urlsafe, 28)),
		{name: "gcp_service_account", key: "GOOGLE_CREDENTIALS", label: "service account", gen: gcpServiceAccount},
		{name: "azure_storage_connection_string", key: "AZURE_STORAGE_CONNECTION_STRING", label: "storage connection string", gen: azureStorage},
		token("twilio_api_key", "TWILIO_API_KEY", "Twilio API key", "SK", fixed(hexLower, 32)),
		keyed(token("twilio_auth_token", "TWILIO_AUTH_TOKEN", "Twilio auth token", "", fixed(hexLower, 32))),
		token("sendgrid_key", "SENDGRID_API_KEY", "SendGrid key", "SG.", func(r *rand.Rand) string {
			return pick(r, urlsafe, 22) + "." + pick(r, urlsafe, 43)
		}),
		token("npm_token", "NPM_TOKEN", "npm token", "npm_", fixed(alnum, 36)),
		token("pypi_token", "PYPI_TOKEN", "PyPI token", "pypi-AgEIcHlwaS5vcmc", fixed(urlsafe, 120)),
		token("dockerhub_pat", "DOCKERHUB_TOKEN", "Docker Hub token", "dckr_pat_", fixed(urlsafe, 27)),
		{name: "jwt", key: "ID_TOKEN", label: "ID token", gen: jwt},
		pemKind("rsa_private_key", "TLS_KEY", "RSA key", "RSA PRIVATE KEY", "MIIEpAIBAAKCAQEA", 8),
		pemKind("ec_private_key", "EC_KEY", "EC key", "EC PRIVATE KEY", "MHcCAQEEI", 2),
		pemKind("openssh_private_key", "SSH_KEY", "deploy key", "OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", 5),
		dbURL("postgres_url", "DATABASE_URL", "postgres://app:PW@db.internal:5432/app?sslmode=require"),
		dbURL("mysql_url", "MYSQL_URL", "mysql://root:PW@10.0.3.7:3306/shop"),
		dbURL("mongodb_srv_url", "MONGODB_URI", "mongodb+srv://admin:PW@cluster0.ab1cd.mongodb.net/prod?retryWrites=true&w=majority"),
		dbURL("redis_url", "REDIS_URL", "redis://:PW@cache.internal:6379/0"),
		dbURL("basic_auth_url", "ARTIFACTS_URL", "https://deploy:PW@artifacts.example.com/repository/npm/"),
		keyed(secretKind{name: "generic_password", key: "DB_PASSWORD", label: "database password", gen: func(r *rand.Rand) (string, string) {
			p := password(r)
			return p, p
		}}),
		withHeader(keyed(token("generic_api_key", "API_KEY", "API key", "", fixed(alnum, 32))), "X-Api-Key: "),
		keyed(token("bearer_token", "ACCESS_TOKEN", "access token", "", fixed(urlsafe+".", 48))),
		withHeader(keyed(secretKind{name: "basic_auth_header", key: "AUTHORIZATION", label: "Authorization header", gen: basicAuth}), "Authorization: "),
		token("heroku_api_key", "HEROKU_API_KEY", "Heroku key", "HRKU-AA", fixed(urlsafe, 58)),
		token("digitalocean_token", "DIGITALOCEAN_TOKEN", "DigitalOcean token", "dop_v1_", fixed(hexLower, 64)),
		token("shopify_access_token", "SHOPIFY_ACCESS_TOKEN", "Shopify token", "shpat_", fixed(hexLower, 32)),
		token("vault_token", "VAULT_TOKEN", "Vault token", "hvs.CAESI", fixed(urlsafe, 90)),
		token("huggingface_token", "HF_TOKEN", "Hugging Face token", "hf_", fixed("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)),
	}
}

func isPEM(k secretKind) bool { return strings.HasSuffix(k.name, "private_key") }

// isURL: the value is a URL of its own (a connection string, a webhook).
func isURL(k secretKind) bool { return strings.HasSuffix(k.name, "_url") || k.name == "slack_webhook" }

// A context writes a kind's value the way it appears in one kind of text; "" means the
// kind is never met there (a PEM key in an HTTP header).
type context struct {
	name   string
	render func(k secretKind, value string) string
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func jsonValue(k secretKind, v string) string {
	return `{"name":"deploy","region":"eu-west-1",` + jsonString(strings.ToLower(k.key)) + `:` + jsonString(v) + `,"replicas":3}`
}

func contexts() []context {
	return []context{
		{"prose", prose},
		{"shell", shell},
		{"url", func(k secretKind, v string) string {
			switch {
			case isURL(k):
				return "open " + v + " to check"
			case isPEM(k):
				return ""
			}
			return "git clone https://x-access-token:" + url.PathEscape(v) + "@github.com/acme/api.git"
		}},
		{"query_string", func(k secretKind, v string) string {
			name := strings.ToLower(k.key)
			if isURL(k) {
				name = "next"
			}
			return "GET https://api.example.com/v1/export?format=csv&" + name + "=" + url.QueryEscape(v) + "&page=2"
		}},
		{"json_key", func(k secretKind, v string) string {
			if k.keyed {
				return `{"env":{` + jsonString(k.key+"="+v) + `:true}}`
			}
			return `{"tokens":{` + jsonString(v) + `:{"owner":"ci","scopes":["repo"]}}}`
		}},
		{"json_value", jsonValue},
		{"env_file", func(k secretKind, v string) string {
			if strings.ContainsAny(v, "\n\"") {
				v = "'" + v + "'"
			}
			return "# production\nAPP_ENV=production\n" + k.key + "=" + v + "\nLOG_LEVEL=info\n"
		}},
		{"http_header", header},
		{"yaml", yamlDoc},
		{"pem", func(k secretKind, v string) string {
			if !isPEM(k) {
				return ""
			}
			return "# generated by ssh-keygen for the deploy user\n" + v
		}},
		{"log", logLine},
		{"percent_encoded", func(k secretKind, v string) string {
			inner := "/callback?" + strings.ToLower(k.key) + "=" + url.QueryEscape(v) + "&state=xyz"
			return "302 Found: Location: https://login.example.com/authorize?redirect_uri=" + url.QueryEscape(inner)
		}},
		{"json_escaped", func(k secretKind, v string) string {
			return `{"tool":"Bash","stdout":` + jsonString(jsonValue(k, v)+"\n") + `}`
		}},
	}
}

func prose(k secretKind, v string) string {
	if k.keyed || strings.Contains(v, "\n") {
		return "Deploys fail since this morning. My " + k.label + " is " + v + ", can you check what is wrong?"
	}
	return "I accidentally committed " + v + " to the repo yesterday; can you help me rotate it?"
}

func shell(k secretKind, v string) string {
	switch {
	case isPEM(k):
		return "cat > ~/.ssh/deploy_key <<'EOF'\n" + v + "EOF\nchmod 600 ~/.ssh/deploy_key"
	case k.keyed:
		return k.key + "='" + v + "' ./scripts/deploy.sh --env prod"
	}
	return "printf '%s' '" + v + "' | gh secret set " + k.key + " --repo acme/api"
}

func header(k secretKind, v string) string {
	if isPEM(k) || k.name == "gcp_service_account" {
		return ""
	}
	h := k.header
	if h == "" {
		h = "Authorization: Bearer "
		if isURL(k) || k.name == "azure_storage_connection_string" {
			h = "X-Target: "
		}
	}
	return "POST /v1/charges HTTP/1.1\r\nHost: api.example.com\r\n" + h + v + "\r\nContent-Type: application/json\r\n\r\n"
}

func yamlDoc(k secretKind, v string) string {
	if strings.Contains(v, "\n") {
		v = "|\n        " + strings.ReplaceAll(strings.TrimSuffix(v, "\n"), "\n", "\n        ")
	} else {
		v = jsonString(v)
	}
	return "services:\n  api:\n    image: acme/api:1.4.2\n    environment:\n      " + k.key + ": " + v + "\n    ports: [\"8080:8080\"]\n"
}

func logLine(k secretKind, v string) string {
	v = strings.ReplaceAll(v, "\n", `\n`)
	if k.keyed {
		return "2026-12-05T12:00:01.123Z INFO config loaded: " + k.key + "=" + v + " region=eu-west-1"
	}
	return "2026-12-05T12:00:01.123Z DEBUG auth: authenticating with " + v + " (attempt 2 of 3)"
}

// secretCorpus is every kind in every context it is met in.
func secretCorpus() []corpusEntry {
	r := rand.New(rand.NewPCG(13, 2026))
	var out []corpusEntry
	for _, k := range secretKinds() {
		for _, c := range contexts() {
			value, secret := k.gen(r)
			if text := c.render(k, value); text != "" {
				out = append(out, corpusEntry{Kind: k.name, Context: c.name, Secret: secret, Text: text})
			}
		}
	}
	return out
}
