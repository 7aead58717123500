package web

import (
	"bytes"
	"html/template"
	"path/filepath"
	"strings"
	"sync"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Highlighting uses CSS classes, never inline styles, so the Content-Security-Policy can
// forbid inline style and one stylesheet carries both the light and the dark theme.
const (
	lightStyle = "github"
	darkStyle  = "github-dark"
)

func chromaCSS() ([]byte, error) {
	f := chromahtml.New(chromahtml.WithClasses(true))
	var b bytes.Buffer
	b.WriteString("/* generated from chroma styles " + lightStyle + " and " + darkStyle + " */\n")
	if err := f.WriteCSS(&b, styles.Get(lightStyle)); err != nil {
		return nil, err
	}
	b.WriteString("\n@media (prefers-color-scheme: dark) {\n")
	if err := f.WriteCSS(&b, styles.Get(darkStyle)); err != nil {
		return nil, err
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// lexerCache avoids chroma's filename matching (a walk over every lexer's globs) for
// each of the hundreds of edits a long session has.
var lexerCache sync.Map // key string → chroma.Lexer (nil stored as plaintext)

func lexerFor(key string, find func() chroma.Lexer) chroma.Lexer {
	if l, ok := lexerCache.Load(key); ok {
		return l.(chroma.Lexer)
	}
	l := find()
	if l == nil {
		l = lexers.Fallback
	}
	l = chroma.Coalesce(l)
	lexerCache.Store(key, l)
	return l
}

// warmLexers compiles, once and off the request path, the regexps of the lexers most
// sessions use: chroma compiles a lexer's rules on its first use, which would otherwise
// land on the first page view (tens of milliseconds for the larger grammars).
var warmLexers = sync.OnceFunc(func() {
	for _, f := range []string{"x.go", "x.py", "x.ts", "x.tsx", "x.js", "x.json", "x.yaml", "x.md", "x.rs", "x.java", "x.sh", "x.html", "x.css", "x.sql"} {
		tokenise(lexerForFile(f), "x\n")
	}
	tokenise(lexerForLang("bash"), "x\n")
	tokenise(lexerForLang("go"), "x\n")
})

func lexerForFile(path string) chroma.Lexer {
	base := strings.ToLower(filepath.Base(path))
	key := "file:" + strings.ToLower(filepath.Ext(base))
	if filepath.Ext(base) == "" {
		key = "file:" + base // Makefile, Dockerfile
	}
	return lexerFor(key, func() chroma.Lexer { return lexers.Match(base) })
}

func lexerForLang(lang string) chroma.Lexer {
	lang = strings.ToLower(strings.TrimSpace(lang))
	return lexerFor("lang:"+lang, func() chroma.Lexer {
		if lang == "" {
			return nil
		}
		return lexers.Get(lang)
	})
}

// tokenClass is the chroma class of a token type, walking up to its parent category like
// chroma's own HTML formatter does.
func tokenClass(t chroma.TokenType) string {
	for t != 0 {
		if cls, ok := chroma.StandardTypes[t]; ok {
			return cls
		}
		t = t.Parent()
	}
	return ""
}

// writeTokens writes tokens as escaped HTML spans; every byte of source text goes through
// template.HTMLEscape, which is what makes the result safe to mark template.HTML.
func writeTokens(b *bytes.Buffer, tokens []chroma.Token) {
	for _, tok := range tokens {
		cls := tokenClass(tok.Type)
		if cls == "" {
			template.HTMLEscape(b, []byte(tok.Value))
			continue
		}
		b.WriteString(`<span class="`)
		b.WriteString(cls)
		b.WriteString(`">`)
		template.HTMLEscape(b, []byte(tok.Value))
		b.WriteString(`</span>`)
	}
}

// maxHighlightBytes caps what one block is highlighted for: chroma's lexers run at
// roughly a megabyte a second, so a Write of a generated file would stall the page. Beyond
// the cap the block is shown as plain (still escaped) text.
const maxHighlightBytes = 64 << 10

// tokenise lexes src with l; a nil l (a block shown plain) or an over-long src gives
// one text token.
func tokenise(l chroma.Lexer, src string) []chroma.Token {
	if l == nil || len(src) > maxHighlightBytes {
		return []chroma.Token{{Type: chroma.Text, Value: src}}
	}
	it, err := l.Tokenise(nil, src)
	if err != nil {
		return []chroma.Token{{Type: chroma.Text, Value: src}}
	}
	return it.Tokens()
}

// highlightCode renders src as a highlighted <pre> block.
func highlightCode(l chroma.Lexer, src string, extraClass string) template.HTML {
	var b bytes.Buffer
	b.WriteString(`<pre class="chroma code`)
	if extraClass != "" {
		b.WriteString(" " + extraClass)
	}
	b.WriteString(`"><code>`)
	writeTokens(&b, tokenise(l, src))
	b.WriteString("</code></pre>")
	return template.HTML(b.String())
}

func shellKey(cmd string) [32]byte { return cacheKey("shell", cmd) }

// highlightShell renders a Bash tool call's command.
func highlightShell(cmd string) template.HTML {
	return highlighted.get(shellKey(cmd), func() template.HTML {
		return highlightCode(lexerForLang("bash"), cmd, "shell")
	})
}

// shellBlock is what a page shows for a command: the highlighted block when one is
// cached (prewarm put the first ones there), otherwise the escaped text marked "plain",
// which the page's script swaps for the highlighted block when it scrolls into view.
func shellBlock(cmd string) template.HTML {
	if len(cmd) > maxHighlightBytes {
		return highlightCode(nil, cmd, "shell") // never highlighted, nothing to fetch later
	}
	if v, ok := highlighted.peek(shellKey(cmd)); ok {
		return v
	}
	return highlightCode(nil, cmd, "shell plain")
}

// renderDiff renders structuredPatch hunks as a unified diff whose lines are highlighted
// in the language of the file. The hunk's lines are tokenised together, not one by one,
// so multi-line strings and comments keep their colour.
func renderDiff(path string, hunks []agenttrace.DiffHunk) template.HTML {
	return highlighted.get(diffKey(path, hunks), func() template.HTML { return renderDiffUncached(path, hunks) })
}

func diffKey(path string, hunks []agenttrace.DiffHunk) [32]byte {
	parts := []string{"diff", lexerForFile(path).Config().Name}
	for _, h := range hunks {
		parts = append(parts, itoa(h.OldStart), itoa(h.OldLines), itoa(h.NewStart), itoa(h.NewLines))
		parts = append(parts, h.Lines...)
		parts = append(parts, "\x01") // hunk boundary
	}
	return cacheKey(parts...)
}

// diffBlock is what a page shows for a diff: highlighted when cached, otherwise the
// same lines, added and removed ones marked, without syntax colours ("plain", swapped
// for the highlighted block when it scrolls into view). The plain form costs a few
// microseconds where chroma's lexers cost about half a millisecond.
func diffBlock(path string, hunks []agenttrace.DiffHunk) template.HTML {
	if v, ok := highlighted.peek(diffKey(path, hunks)); ok {
		return v
	}
	return renderDiffWith(nil, hunks, "diff plain")
}

func renderDiffUncached(path string, hunks []agenttrace.DiffHunk) template.HTML {
	return renderDiffWith(lexerForFile(path), hunks, "diff")
}

// renderDiffWith renders hunks with lexer l (nil: no syntax colours).
func renderDiffWith(l chroma.Lexer, hunks []agenttrace.DiffHunk, class string) template.HTML {
	var b bytes.Buffer
	b.WriteString(`<pre class="chroma ` + class + `"><code>`)
	for _, h := range hunks {
		b.WriteString(`<span class="dl hunk">@@ -`)
		writeRange(&b, h.OldStart, h.OldLines)
		b.WriteString(` +`)
		writeRange(&b, h.NewStart, h.NewLines)
		// Each line's newline sits inside its block-level span: copied text keeps its
		// lines and the browser draws no blank line between them.
		b.WriteString(" @@\n</span>")
		marks := make([]byte, len(h.Lines))
		var src strings.Builder
		for i, line := range h.Lines {
			mark, body := byte(' '), line
			if line != "" {
				switch line[0] {
				case '+', '-', ' ', '\\':
					mark, body = line[0], line[1:]
				}
			}
			marks[i] = mark
			src.WriteString(body)
			src.WriteByte('\n')
		}
		lines := chroma.SplitTokensIntoLines(tokenise(l, src.String()))
		for i, mark := range marks {
			switch mark {
			case '+':
				b.WriteString(`<span class="dl add"><span class="dm" aria-label="added">+</span>`)
			case '-':
				b.WriteString(`<span class="dl del"><span class="dm" aria-label="removed">-</span>`)
			case '\\':
				b.WriteString(`<span class="dl meta"><span class="dm">\</span>`)
			default:
				b.WriteString(`<span class="dl ctx"><span class="dm"> </span>`)
			}
			if i < len(lines) {
				toks := lines[i]
				// The line's own newline is emitted below so each line stays one span.
				if n := len(toks); n > 0 && strings.HasSuffix(toks[n-1].Value, "\n") {
					last := toks[n-1]
					last.Value = strings.TrimSuffix(last.Value, "\n")
					toks = append(toks[:n-1:n-1], last)
				}
				writeTokens(&b, toks)
			}
			b.WriteString("\n</span>")
		}
	}
	b.WriteString("</code></pre>")
	return template.HTML(b.String())
}

func writeRange(b *bytes.Buffer, start, n int) {
	b.WriteString(itoa(start))
	b.WriteByte(',')
	b.WriteString(itoa(n))
}

// markdown renders model responses. goldmark's default renderer escapes raw HTML and
// drops dangerous link schemes; html.WithUnsafe is deliberately never set.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithRendererOptions(renderer.WithNodeRenderers(
		util.Prioritized(fencedCodeRenderer{}, 100), // before goldmark's own (1000)
	)),
)

func markdownKey(src string) [32]byte { return cacheKey("markdown", src) }

func renderMarkdown(src string) template.HTML {
	return highlighted.get(markdownKey(src), func() template.HTML { return renderMarkdownUncached(src) })
}

func renderMarkdownUncached(src string) template.HTML {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(src), &b); err != nil {
		// Fall back to the escaped text rather than failing a whole page.
		return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>")
	}
	return template.HTML(b.String())
}

// fencedCodeRenderer highlights fenced code blocks with chroma (goldmark-highlighting is
// not a dependency, and this is all of it we need).
type fencedCodeRenderer struct{}

func (fencedCodeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, renderFenced)
}

func renderFenced(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.FencedCodeBlock)
	var code strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		code.Write(seg.Value(source))
	}
	lang := string(n.Language(source))
	var b bytes.Buffer
	b.WriteString(`<pre class="chroma code"`)
	if lang != "" {
		b.WriteString(` data-lang="`)
		template.HTMLEscape(&b, []byte(lang))
		b.WriteString(`"`)
	}
	b.WriteString(`><code>`)
	writeTokens(&b, tokenise(lexerForLang(lang), code.String()))
	b.WriteString("</code></pre>\n")
	_, err := w.Write(b.Bytes())
	return ast.WalkSkipChildren, err
}
