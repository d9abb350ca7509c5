package cmd

// Tests of the repository's Dockerfile without a Docker engine:
//
//  1. lint: buildkit's own `docker build --check` rules (dockerfile2llb.DockerfileLint),
//     with the base image's metadata answered locally instead of from a registry;
//  2. structure: the Dockerfile parsed by buildkit's parser and instructions packages,
//     checked against what the image must be (static binary on scratch, non-root, ...);
//  3. build: the `go build` command taken word for word from the Dockerfile's RUN
//     (shell-expanded by buildkit's lexer, build args set) is run here, and the binary
//     it makes is run and inspected.

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/mod/modfile"
)

// The build arguments the test builds with, as `docker build --build-arg` would set them.
const (
	dfTestVersion = "v9.9.9-test"
	dfTestCommit  = "abc1234"
	dfTestDate    = "2026-01-01"
)

// dfRepoRoot is the build context: the repository root, one level above this package.
func dfRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func dfRead(t *testing.T, name string) []byte {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(dfRepoRoot(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// ---------------------------------------------------------------------------
// 1. Lint: the rules behind `docker build --check`
// ---------------------------------------------------------------------------

// dfFakeResolver answers the base image metadata requests of the Dockerfile
// frontend without a registry: a non-empty image (one layer) for the requested
// platform, so the frontend treats it as a real image and not as scratch.
type dfFakeResolver struct{ refs []string }

func (r *dfFakeResolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	r.refs = append(r.refs, ref)
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	cfg := map[string]any{
		"architecture": p.Architecture,
		"os":           p.OS,
		"config": map[string]any{
			"Env":        []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOPATH=/go"},
			"WorkingDir": "/go",
		},
		"rootfs": map[string]any{
			"type":     "layers",
			"diff_ids": []string{digest.FromString("layer").String()},
		},
	}
	if p.Variant != "" {
		cfg["variant"] = p.Variant
	}
	dt, err := json.Marshal(cfg)
	return ref, "", dt, err
}

// dfLint runs buildkit's DockerfileLint as the Dockerfile frontend does for
// `docker build --check`: without a frontend client, the lint configuration comes
// from the Dockerfile's own `# check=` directive. A non-empty check directive is
// put in front of the Dockerfile's (a later one is ignored by the parser).
func dfLint(t *testing.T, dt []byte, check string) ([]string, *dfFakeResolver) {
	t.Helper()
	offset := 0
	if check != "" {
		dt = append([]byte("# check="+check+"\n"), dt...)
		offset = 1
	}
	// The source map as dockerui's ReadEntrypoint makes it: the Dockerfile read from
	// the "dockerfile" local, whose marshalled definition the lint results carry.
	src := llb.Local("dockerfile", llb.FollowPaths([]string{"Dockerfile", "Dockerfile.dockerignore"}))
	def, err := src.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	smap := llb.NewSourceMap(&src, "Dockerfile", "Dockerfile", dt)
	smap.Definition = def
	res := &dfFakeResolver{}
	opt := dockerfile2llb.ConvertOpt{
		SourceMap:      smap,
		MetaResolver:   res,
		TargetPlatform: &ocispecs.Platform{OS: "linux", Architecture: "amd64"},
	}
	results, err := dockerfile2llb.DockerfileLint(context.Background(), dt, opt)
	if err != nil {
		t.Fatalf("DockerfileLint: %v", err)
	}
	if results.Error != nil {
		loc := ""
		for _, r := range results.Error.Location.Ranges {
			loc += fmt.Sprintf(" line %d", r.Start.Line)
		}
		t.Fatalf("Dockerfile does not build (as `docker build --check` would say):%s: %s", loc, results.Error.Message)
	}
	var warnings []string
	for _, w := range results.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line) - offset
		}
		warnings = append(warnings, fmt.Sprintf("%s (line %d): %s — %s", w.RuleName, line, w.Detail, w.URL))
	}
	return warnings, res
}

func TestDockerfileLint(t *testing.T) {
	// The harness itself: a Dockerfile with known faults must give warnings, or a
	// clean result below would prove nothing.
	t.Run("harness reports known faults", func(t *testing.T) {
		bad := []byte("FROM golang:1.26.8 as Build\nFROM scratch\nCOPY --from=Build /a /a\nENTRYPOINT /a\n")
		warnings, _ := dfLint(t, bad, "")
		rules := strings.Join(warnings, "\n")
		for _, want := range []string{"FromAsCasing", "StageNameCasing", "JSONArgsRecommended"} {
			if !strings.Contains(rules, want) {
				t.Errorf("lint of a faulty Dockerfile did not report %s; got:\n%s", want, rules)
			}
		}
	})

	dt := dfRead(t, "Dockerfile")
	t.Run("default rules (docker build --check)", func(t *testing.T) {
		warnings, res := dfLint(t, dt, "")
		for _, w := range warnings {
			t.Errorf("lint warning: %s", w)
		}
		// The frontend really resolved the base image (and only that one: the final
		// stage is scratch, which needs no resolution).
		if len(res.refs) != 1 || !strings.HasPrefix(res.refs[0], "docker.io/library/golang:") {
			t.Errorf("base images resolved: %q, want exactly one docker.io/library/golang:<version>", res.refs)
		}
	})
	// Experimental rules are not part of `docker build --check` by default: what they
	// say is shown, not failed on.
	t.Run("experimental rules (reported only)", func(t *testing.T) {
		warnings, _ := dfLint(t, dt, "experimental=all")
		for _, w := range warnings {
			t.Logf("experimental lint rule: %s", w)
		}
	})
}

// ---------------------------------------------------------------------------
// 2. Structure
// ---------------------------------------------------------------------------

type dfParsed struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
}

func dfParse(t *testing.T) dfParsed {
	t.Helper()
	dt := dfRead(t, "Dockerfile")
	res, err := dfparser.Parse(bytes.NewReader(dt))
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("parser warning: %s", w.Short)
	}
	var lintWarnings []string
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, _ []dfparser.Range) {
		lintWarnings = append(lintWarnings, rule+": "+msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("instructions of the Dockerfile: %v", err)
	}
	for _, w := range lintWarnings {
		t.Errorf("instructions warning: %s", w)
	}
	return dfParsed{stages: stages, metaArgs: metaArgs}
}

// dfGoBuild is the `go build` command of the build stage's RUN, its words as the
// shell would split them with the build args set to the test's values.
type dfGoBuild struct {
	env    []string // NAME=VALUE assignments before the command
	args   []string // go build <args>
	raw    string   // the RUN command line as written
	ldflag string   // the value of -ldflags, unexpanded
	output string   // the value of -o
}

var dfAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// dfFindGoBuild finds the single `go build` in stage's RUN instructions and splits it
// into words with buildkit's shell lexer (the same lexer the frontend uses for
// variable expansion), expanding the given build args.
func dfFindGoBuild(t *testing.T, stage instructions.Stage, buildArgs map[string]string) dfGoBuild {
	t.Helper()
	var found []dfGoBuild
	var env []string
	for k, v := range buildArgs {
		env = append(env, k+"="+v)
	}
	lex := shell.NewLex('\\')
	for _, c := range stage.Commands {
		run, ok := c.(*instructions.RunCommand)
		if !ok || !run.PrependShell || len(run.CmdLine) != 1 {
			continue
		}
		raw := run.CmdLine[0]
		words, err := lex.ProcessWords(raw, shell.EnvsFromSlice(env))
		if err != nil {
			t.Fatalf("split RUN %q: %v", raw, err)
		}
		rawWords, err := lex.ProcessWords(strings.NewReplacer("$", `\$`).Replace(raw), shell.EnvsFromSlice(nil))
		if err != nil {
			t.Fatalf("split RUN %q: %v", raw, err)
		}
		if len(rawWords) != len(words) {
			t.Fatalf("RUN %q: expansion changed the number of words (%d vs %d)", raw, len(rawWords), len(words))
		}
		// Split on shell list operators into simple commands.
		start := 0
		for i := 0; i <= len(words); i++ {
			if i < len(words) && !slices.Contains([]string{"&&", "||", ";"}, words[i]) {
				continue
			}
			seg, rawSeg := words[start:i], rawWords[start:i]
			start = i + 1
			j := 0
			for j < len(seg) && dfAssign.MatchString(seg[j]) {
				j++
			}
			if len(seg)-j < 2 || seg[j] != "go" || seg[j+1] != "build" {
				continue
			}
			gb := dfGoBuild{env: seg[:j], args: seg[j+2:], raw: raw}
			for k := j + 2; k < len(seg); k++ {
				switch {
				case rawSeg[k] == "-ldflags" && k+1 < len(seg):
					gb.ldflag = rawSeg[k+1]
				case strings.HasPrefix(rawSeg[k], "-ldflags="):
					gb.ldflag = strings.TrimPrefix(rawSeg[k], "-ldflags=")
				case seg[k] == "-o" && k+1 < len(seg):
					gb.output = seg[k+1]
				}
			}
			found = append(found, gb)
		}
	}
	if len(found) != 1 {
		t.Fatalf("stage %q: want exactly one `go build` in its RUN instructions, found %d", stage.Name, len(found))
	}
	return found[0]
}

// dfMainVars returns main.go's package-level string variables.
func dfMainVars(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dfRepoRoot(t), "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name.Name != "main" {
		t.Fatalf("main.go is package %s, want main", f.Name.Name)
	}
	vars := map[string]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			// -X sets only string variables that are not initialised to a non-constant.
			if !ok || id.Name != "string" {
				continue
			}
			for _, n := range vs.Names {
				vars[n.Name] = true
			}
		}
	}
	return vars
}

func TestDockerfileStructure(t *testing.T) {
	p := dfParse(t)
	if len(p.stages) < 2 {
		t.Fatalf("want a multi-stage Dockerfile, got %d stage(s)", len(p.stages))
	}
	if len(p.metaArgs) != 0 {
		t.Errorf("global ARGs before the first FROM: %d; the base images must be literal", len(p.metaArgs))
	}

	// --- build stage ---
	var build *instructions.Stage
	for i := range p.stages {
		if p.stages[i].Name == "build" {
			build = &p.stages[i]
		}
	}
	if build == nil {
		t.Fatal("no stage named `build` (FROM ... AS build)")
	}
	ref, err := reference.ParseNormalizedNamed(build.BaseName)
	if err != nil {
		t.Fatalf("build stage base %q: %v", build.BaseName, err)
	}
	tagged, ok := ref.(reference.Tagged)
	if reference.FamiliarName(ref) != "golang" || !ok {
		t.Fatalf("build stage FROM %q, want the golang image with a tag", build.BaseName)
	}
	m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(tagged.Tag())
	if m == nil {
		t.Fatalf("golang image tag %q is not an exact version like 1.26.8", tagged.Tag())
	}
	imageMinor := m[1] + "." + m[2]

	// The Go of the image is the Go that go.mod asks for (major.minor).
	mf, err := modfile.Parse("go.mod", dfRead(t, "go.mod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Go == nil {
		t.Fatal("go.mod has no go directive")
	}
	gm := regexp.MustCompile(`^(\d+)\.(\d+)`).FindStringSubmatch(mf.Go.Version)
	if gm == nil {
		t.Fatalf("go.mod go directive %q", mf.Go.Version)
	}
	if modMinor := gm[1] + "." + gm[2]; imageMinor != modMinor {
		t.Errorf("golang image %s is Go %s but go.mod says go %s", tagged.Tag(), imageMinor, mf.Go.Version)
	}
	// and at least the patch release go.mod names (go 1.26.0 → any 1.26.x).
	if cmpVersions(tagged.Tag(), mf.Go.Version) < 0 {
		t.Errorf("golang image %s is older than go.mod's go %s", tagged.Tag(), mf.Go.Version)
	}

	// The version variables the ldflags set exist in main.go as strings.
	vars := dfMainVars(t)
	for _, v := range []string{"version", "commit", "date"} {
		if !vars[v] {
			t.Errorf("main.go has no package-level string variable %q for -X main.%s=", v, v)
		}
	}

	// The build args, declared in the build stage before the RUN that uses them.
	args := map[string]bool{}
	for _, c := range build.Commands {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				args[kv.Key] = true
			}
		}
	}
	for _, a := range []string{"VERSION", "COMMIT", "DATE"} {
		if !args[a] {
			t.Errorf("build stage has no ARG %s", a)
		}
	}

	gb := dfFindGoBuild(t, *build, map[string]string{"VERSION": dfTestVersion, "COMMIT": dfTestCommit, "DATE": dfTestDate})
	t.Logf("build stage: %s go build %s", strings.Join(gb.env, " "), strings.Join(gb.args, " "))
	if !slices.Contains(gb.env, "CGO_ENABLED=0") {
		t.Errorf("go build is not run with CGO_ENABLED=0: %q", gb.raw)
	}
	if !slices.Contains(gb.args, "-trimpath") {
		t.Errorf("go build has no -trimpath: %q", gb.raw)
	}
	if gb.ldflag == "" {
		t.Errorf("go build has no -ldflags: %q", gb.raw)
	}
	ldWords := strings.Fields(gb.ldflag)
	for _, kv := range [][2]string{{"version", "VERSION"}, {"commit", "COMMIT"}, {"date", "DATE"}} {
		okX := false
		for i := 0; i+1 < len(ldWords); i++ {
			if ldWords[i] == "-X" && (ldWords[i+1] == "main."+kv[0]+"=${"+kv[1]+"}" || ldWords[i+1] == "main."+kv[0]+"=$"+kv[1]) {
				okX = true
			}
		}
		if !okX {
			t.Errorf("-ldflags %q has no -X main.%s=${%s}", gb.ldflag, kv[0], kv[1])
		}
	}
	if gb.output == "" {
		t.Errorf("go build has no -o: %q", gb.raw)
	}
	if pkgs := dfPackages(gb.args); !slices.Equal(pkgs, []string{"."}) {
		t.Errorf("go build builds %q, want the main package at the context root: \".\"", pkgs)
	}
	// The build stage copies the context into its working directory before building.
	if !dfStageCopiesContext(*build) {
		t.Errorf("build stage has no COPY . . of the build context")
	}
	// and downloads no more than the build needs: `go mod download` fetches the whole
	// module graph, the test suite's tools with it.
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go mod download") {
			t.Errorf("build stage line %d runs go mod download: every module of the graph, test tools included", dfLine(r))
		}
	}

	// --- final stage ---
	final := p.stages[len(p.stages)-1]
	if final.BaseName != "scratch" {
		t.Fatalf("final stage FROM %q, want scratch (no shell, no compiler)", final.BaseName)
	}
	var (
		users, healthchecks, entrypoints []instructions.Command
		exposed                          []string
		copiedBinary                     bool
	)
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From != "build" {
				t.Errorf("final stage line %d: %s copies from %q, want only --from=build", dfLine(c), c.Name(), c.From)
			}
			if slices.Contains(c.SourcePaths, gb.output) && c.DestPath == "/articlesd" {
				copiedBinary = true
			}
		case *instructions.AddCommand:
			t.Errorf("final stage line %d: ADD; want only COPY --from=build", dfLine(c))
		case *instructions.RunCommand:
			t.Errorf("final stage line %d: RUN in a scratch stage (there is no shell)", dfLine(c))
		case *instructions.UserCommand:
			users = append(users, c)
			uid, gid, hasGid := strings.Cut(c.User, ":")
			if n, err := strconv.Atoi(uid); err != nil || n <= 0 {
				t.Errorf("USER %q: want a non-zero numeric uid (scratch has no /etc/passwd)", c.User)
			}
			if hasGid {
				if n, err := strconv.Atoi(gid); err != nil || n <= 0 {
					t.Errorf("USER %q: want a non-zero numeric gid", c.User)
				}
			}
		case *instructions.HealthCheckCommand:
			healthchecks = append(healthchecks, c)
			if want := []string{"CMD", "/articlesd", "healthcheck"}; !slices.Equal(c.Health.Test, want) {
				t.Errorf("HEALTHCHECK test %q, want exec form %q (scratch has no shell)", c.Health.Test, want)
			}
		case *instructions.EntrypointCommand:
			entrypoints = append(entrypoints, c)
			if c.PrependShell || !slices.Equal(c.CmdLine, []string{"/articlesd"}) {
				t.Errorf("ENTRYPOINT %q (shell form: %v), want exec form [\"/articlesd\"]", c.CmdLine, c.PrependShell)
			}
		case *instructions.CmdCommand:
			if c.PrependShell {
				t.Errorf("CMD %q in shell form; scratch has no shell", c.CmdLine)
			}
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		}
	}
	if len(users) != 1 {
		t.Errorf("final stage has %d USER instructions, want 1", len(users))
	}
	if len(healthchecks) != 1 {
		t.Errorf("final stage has %d HEALTHCHECK instructions, want 1", len(healthchecks))
	}
	if len(entrypoints) != 1 {
		t.Errorf("final stage has %d ENTRYPOINT instructions, want 1", len(entrypoints))
	}
	if !slices.Contains(exposed, "8080") && !slices.Contains(exposed, "8080/tcp") {
		t.Errorf("final stage EXPOSE %q, want 8080", exposed)
	}
	if !copiedBinary {
		t.Errorf("final stage does not COPY --from=build %s /articlesd (the file go build -o writes)", gb.output)
	}
}

// dfPackages returns the non-flag arguments of go build args (the packages).
func dfPackages(args []string) []string {
	withValue := map[string]bool{"-o": true, "-ldflags": true, "-gcflags": true, "-tags": true, "-mod": true, "-p": true, "-buildmode": true, "-asmflags": true, "-modfile": true, "-overlay": true, "-pgo": true, "-installsuffix": true, "-pkgdir": true, "-toolexec": true, "-compiler": true, "-gccgoflags": true}
	var pkgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if withValue[a] {
				i++
			}
			continue
		}
		pkgs = append(pkgs, a)
	}
	return pkgs
}

func dfStageCopiesContext(s instructions.Stage) bool {
	for _, c := range s.Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok && cp.From == "" && slices.Contains(cp.SourcePaths, ".") {
			return true
		}
	}
	return false
}

func dfLine(c instructions.Command) int {
	if l, ok := c.(interface{ Location() []dfparser.Range }); ok && len(l.Location()) > 0 {
		return l.Location()[0].Start.Line
	}
	return 0
}

// cmpVersions compares dotted numeric versions (1.26.8 vs 1.26.0).
func cmpVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func TestDockerfileDockerignore(t *testing.T) {
	f, err := os.Open(filepath.Join(dfRepoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", ".git/HEAD", ".git/objects/pack/x.pack", "articlesd.db", "articlesd.db-wal", "articlesd.db-shm", "articlesd.db-journal"} {
		if ok, err := pm.MatchesOrParentMatches(p); err != nil || !ok {
			t.Errorf(".dockerignore does not exclude %s (err %v)", p, err)
		}
	}
	// and does not exclude what the build needs.
	for _, p := range []string{"go.mod", "go.sum", "main.go", "cmd/root.go", "store/store.go"} {
		if ok, _ := pm.MatchesOrParentMatches(p); ok {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
}

// ---------------------------------------------------------------------------
// 3. Build what the Dockerfile builds, the same way
// ---------------------------------------------------------------------------

func TestDockerfileBuild(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	p := dfParse(t)
	var build *instructions.Stage
	for i := range p.stages {
		if p.stages[i].Name == "build" {
			build = &p.stages[i]
		}
	}
	if build == nil {
		t.Fatal("no stage named build")
	}
	gb := dfFindGoBuild(t, *build, map[string]string{"VERSION": dfTestVersion, "COMMIT": dfTestCommit, "DATE": dfTestDate})

	// The Dockerfile's own go build words, with -o pointed into a temporary directory.
	out := filepath.Join(t.TempDir(), "articlesd")
	args := []string{"build"}
	for i := 0; i < len(gb.args); i++ {
		args = append(args, gb.args[i])
		if gb.args[i] == "-o" && i+1 < len(gb.args) {
			args = append(args, out)
			i++
		}
	}
	// Belt and braces: what the task says the build must be, independent of parsing.
	wantLd := "-X main.version=" + dfTestVersion + " -X main.commit=" + dfTestCommit + " -X main.date=" + dfTestDate
	if i := slices.Index(args, "-ldflags"); i < 0 || !strings.Contains(args[i+1], wantLd) {
		t.Fatalf("go build args %q lack -ldflags with %q", args, wantLd)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dfRepoRoot(t)
	cmd.Env = append(os.Environ(), gb.env...)
	t.Logf("%s go %s", strings.Join(gb.env, " "), strings.Join(args, " "))
	if outp, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, outp)
	}

	// The binary reports the build arguments.
	vout, err := exec.Command(out, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("articlesd version: %v\n%s", err, vout)
	}
	wantPrefix := fmt.Sprintf("articlesd %s (commit %s, built %s", dfTestVersion, dfTestCommit, dfTestDate)
	if !strings.HasPrefix(string(vout), wantPrefix) {
		t.Errorf("articlesd version = %q, want prefix %q", vout, wantPrefix)
	}

	// Its build information says how it was built.
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatalf("buildinfo: %v", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" {
		t.Errorf("build setting CGO_ENABLED=%q, want 0", settings["CGO_ENABLED"])
	}
	if settings["-trimpath"] != "true" {
		t.Errorf("build setting -trimpath=%q, want true", settings["-trimpath"])
	}
	if bi.Path != "github.com/articlesd/articlesd" {
		t.Errorf("main package path %q", bi.Path)
	}

	// Static: what runs in a scratch image has no dynamic loader and no shared libraries.
	if runtime.GOOS == "linux" {
		ef, err := elf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer ef.Close()
		for _, prog := range ef.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("binary has an ELF interpreter (dynamically linked); it cannot run on scratch")
			}
		}
		if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("binary needs shared libraries %q; it cannot run on scratch", libs)
		}
	}
}
