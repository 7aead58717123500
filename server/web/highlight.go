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

	"github.com/agent-trace/agent-trace/server"
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

func tokenise(l chroma.Lexer, src string) []chroma.Token {
	if len(src) > maxHighlightBytes {
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

// highlightShell renders a Bash tool call's command.
func highlightShell(cmd string) template.HTML {
	return highlighted.get(cacheKey("shell", cmd), func() template.HTML {
		return highlightCode(lexerForLang("bash"), cmd, "shell")
	})
}

// renderDiff renders structuredPatch hunks as a unified diff whose lines are highlighted
// in the language of the file. The hunk's lines are tokenised together, not one by one,
// so multi-line strings and comments keep their colour.
func renderDiff(path string, hunks []server.DiffHunk) template.HTML {
	parts := []string{"diff", lexerForFile(path).Config().Name}
	for _, h := range hunks {
		parts = append(parts, itoa(h.OldStart), itoa(h.OldLines), itoa(h.NewStart), itoa(h.NewLines))
		parts = append(parts, h.Lines...)
		parts = append(parts, "\x01") // hunk boundary
	}
	return highlighted.get(cacheKey(parts...), func() template.HTML { return renderDiffUncached(path, hunks) })
}

func renderDiffUncached(path string, hunks []server.DiffHunk) template.HTML {
	l := lexerForFile(path)
	var b bytes.Buffer
	b.WriteString(`<pre class="chroma diff"><code>`)
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

func renderMarkdown(src string) template.HTML {
	return highlighted.get(cacheKey("markdown", src), func() template.HTML { return renderMarkdownUncached(src) })
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
