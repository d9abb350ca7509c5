package cmd

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/articlesd/articlesd/embedded"
)

// loadCompose loads docker-compose.yml with the loader and schema of `docker compose`
// itself, every profile enabled, .env read as compose reads it.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	return loadComposeProfiles(t, "*")
}

// loadComposeProfiles loads docker-compose.yml as `docker compose --profile P ...` does
// (no profile: as plain `docker compose up`).
func loadComposeProfiles(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."), cli.WithEnvFiles("../.env"), cli.WithDotEnv, cli.WithProfiles(profiles))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func dotEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

var pinnedTag = regexp.MustCompile(`^[a-z0-9./-]+:v?[0-9]+\.[0-9]+(\.[0-9]+)?([.-][a-z0-9.-]+)?$`)

func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	want := []string{"alloy", "articlesd", "articlesd-replica", "grafana", "haproxy", "loki", "migrate", "postgres", "prometheus", "promtail", "provision", "tempo"}
	if got := p.ServiceNames(); !slices.Equal(sortedCopy(got), want) {
		t.Fatalf("services = %v, want %v", sortedCopy(got), want)
	}

	oneShot := map[string]bool{}
	for name, s := range p.Services {
		// Every image is a released version; ours is built from the Dockerfile.
		switch {
		case s.Build != nil:
			if s.Image != "articlesd:local" {
				t.Errorf("%s: built image named %q, want articlesd:local", name, s.Image)
			}
		case !pinnedTag.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest"):
			t.Errorf("%s: image %q is not pinned to a release", name, s.Image)
		}
		if s.Restart == "no" {
			oneShot[name] = true
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind mount source %s: %v", name, v.Source, err)
				}
			}
			if v.Type == types.VolumeTypeVolume {
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %q is not declared", name, v.Source)
				}
			}
		}
	}

	// Each dependency is a one-shot that must complete or a service with a healthcheck
	// that must be healthy, so `docker compose up` comes up in order on the first try.
	for name, s := range p.Services {
		for dep, cond := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			switch cond.Condition {
			case types.ServiceConditionCompletedSuccessfully:
				if !oneShot[dep] {
					t.Errorf("%s waits for %s to complete, but %s is not a one-shot (restart: \"no\")", name, dep, dep)
				}
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || len(target.HealthCheck.Test) == 0 || target.HealthCheck.Disable {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			default:
				t.Errorf("%s depends on %s with condition %q: want service_healthy or service_completed_successfully", name, dep, cond.Condition)
			}
		}
	}
	for _, name := range []string{"postgres", "articlesd", "prometheus", "grafana"} {
		if hc := p.Services[name].HealthCheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	if got := p.Services["promtail"].Profiles; !slices.Equal(got, []string{"promtail"}) {
		t.Errorf("promtail profiles = %v, want [promtail] (Alloy is the default shipper)", got)
	}

	// Published ports are the ones .env names.
	env := dotEnv(t)
	wantPorts := map[string][]string{
		"articlesd":  {"API_PORT:8080"},
		"prometheus": {"PROMETHEUS_PORT:9090"},
		"grafana":    {"GRAFANA_PORT:3000"},
		"loki":       {"LOKI_PORT:3100"},
		"promtail":   {"PROMTAIL_PORT:9080"},
		"alloy":      {"ALLOY_PORT:12345"},
		"tempo":      {"TEMPO_PORT:3200", "TEMPO_OTLP_GRPC_PORT:4317", "TEMPO_OTLP_HTTP_PORT:4318"},
		"haproxy":    {"BALANCER_PORT:8080", "BALANCER_STATS_PORT:8404"},
		// No host port: a published port could not be shared by the replicas of --scale.
		"articlesd-replica": nil,
	}
	for name, specs := range wantPorts {
		var got, want []string
		for _, pc := range p.Services[name].Ports {
			if pc.Published == "" {
				t.Errorf("%s publishes container port %d on no host port (is .env read?)", name, pc.Target)
			}
			got = append(got, pc.Published+":"+strconv.Itoa(int(pc.Target)))
		}
		for _, spec := range specs {
			v, target, _ := strings.Cut(spec, ":")
			want = append(want, env[v]+":"+target)
		}
		if !slices.Equal(sortedCopy(got), sortedCopy(want)) {
			t.Errorf("%s publishes %v, want %v (from .env)", name, got, want)
		}
	}
	published := map[string]string{}
	for name, s := range p.Services {
		for _, pc := range s.Ports {
			if other, dup := published[pc.Published]; dup {
				t.Errorf("%s and %s both publish host port %s", other, name, pc.Published)
			}
			published[pc.Published] = name
		}
	}
	for k, v := range map[string]string{"API_PORT": "8080", "PROMETHEUS_PORT": "9090", "PROMTAIL_PORT": "9080", "GRAFANA_PORT": "3001", "LOKI_PORT": "3100", "TEMPO_PORT": "3200", "TEMPO_OTLP_GRPC_PORT": "4317", "TEMPO_OTLP_HTTP_PORT": "4318"} {
		if env[k] != v {
			t.Errorf(".env %s=%s, want the seed's %s", k, env[k], v)
		}
	}
}

// TestComposeMountsWhatProvisionWrites provisions the stack as the `provision` service
// does and checks that every file and directory the other services are pointed at under
// /stack exists in it, and that they mount the same volume read-only.
func TestComposeMountsWhatProvisionWrites(t *testing.T) {
	p := loadCompose(t)
	prov := p.Services["provision"]
	if !slices.Equal(prov.Command, types.ShellCommand{"provision-grafana", "--out", "/stack"}) {
		t.Fatalf("provision command = %v", prov.Command)
	}
	files, err := embedded.Stack(embedded.DefaultStackParams())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := writeStack(dir, files); err != nil {
		t.Fatal(err)
	}
	exists := func(inContainer string) bool {
		_, err := os.Stat(filepath.Join(dir, strings.TrimPrefix(inContainer, "/stack/")))
		return err == nil
	}
	stackRef := regexp.MustCompile(`/stack/[A-Za-z0-9._/-]+`)
	refs := 0
	for name, s := range p.Services {
		if name == "provision" {
			continue
		}
		var mentions []string
		for _, arg := range s.Command {
			mentions = append(mentions, stackRef.FindAllString(arg, -1)...)
		}
		for _, v := range s.Environment {
			if v != nil {
				mentions = append(mentions, stackRef.FindAllString(*v, -1)...)
			}
		}
		if len(mentions) == 0 {
			continue
		}
		mounted := false
		for _, v := range s.Volumes {
			if v.Source == "stack" && v.Target == "/stack" {
				mounted = true
				if !v.ReadOnly {
					t.Errorf("%s mounts the stack volume writable", name)
				}
			}
		}
		if !mounted {
			t.Errorf("%s refers to %v but does not mount the stack volume at /stack", name, mentions)
		}
		dependsOnProvision := s.DependsOn["provision"].Condition == types.ServiceConditionCompletedSuccessfully
		if !dependsOnProvision {
			t.Errorf("%s reads /stack but does not wait for provision to complete", name)
		}
		for _, m := range mentions {
			refs++
			if !exists(m) {
				t.Errorf("%s refers to %s, which provision-grafana does not write", name, m)
			}
		}
	}
	if refs < 6 {
		t.Fatalf("only %d references to /stack found: the check did not see the services' commands", refs)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestImageTagsConfirmed: `docker compose up` fails whole on one tag that does not exist,
// so every pinned image (compose and the Dockerfile) names, beside it, the source that
// confirms the release (release notes, a changelog, public files that pull that tag).
func TestImageTagsConfirmed(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "Dockerfile"} {
		b, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		images := 0
		for i, line := range lines {
			trimmed := strings.TrimSpace(line)
			var ref string
			switch {
			case strings.HasPrefix(trimmed, "image:"):
				ref = strings.Fields(strings.TrimPrefix(trimmed, "image:"))[0]
			case strings.HasPrefix(trimmed, "FROM ") && !strings.HasPrefix(trimmed, "FROM scratch"):
				ref = strings.Fields(trimmed)[1]
			default:
				continue
			}
			if ref == "articlesd:local" {
				continue
			}
			images++
			name, _, _ := strings.Cut(ref, ":")
			// The source is on the image's line (compose) or in the comment just above it.
			confirmed := strings.Contains(line, "# release confirmed: ")
			for j := i - 1; j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "#"); j-- {
				if strings.Contains(lines[j], ref) && strings.Contains(lines[j], "release confirmed: ") {
					confirmed = true
				}
			}
			if !confirmed {
				t.Errorf("%s:%d: image %s (%s) does not name the source that confirms its release", file, i+1, ref, name)
			}
		}
		if images == 0 {
			t.Errorf("%s: no pinned image found", file)
		}
	}
}

// TestComposeProfiles: plain `docker compose up` starts what it always did; each
// profile only adds its own services.
func TestComposeProfiles(t *testing.T) {
	plain := []string{"alloy", "articlesd", "grafana", "loki", "migrate", "postgres", "prometheus", "provision", "tempo"}
	for _, tc := range []struct {
		profiles []string
		want     []string
	}{
		{nil, plain},
		{[]string{"promtail"}, append(slices.Clone(plain), "promtail")},
		{[]string{"scale"}, append(slices.Clone(plain), "articlesd-replica", "haproxy")},
	} {
		p := loadComposeProfiles(t, tc.profiles...)
		if got, want := sortedCopy(p.ServiceNames()), sortedCopy(tc.want); !slices.Equal(got, want) {
			t.Errorf("docker compose %v: services %v, want %v", tc.profiles, got, want)
		}
	}
}

// TestComposeScaleProfile checks the scaled deployment: replicas of articlesd built like
// the articlesd service, on the same database, with no host port, behind the pinned
// HAProxy that reads the provisioned configuration, whose addresses (and Prometheus')
// are the services' own.
func TestComposeScaleProfile(t *testing.T) {
	p := loadComposeProfiles(t, "scale")
	api, replica, lb := p.Services["articlesd"], p.Services["articlesd-replica"], p.Services["haproxy"]
	for name, s := range map[string]types.ServiceConfig{"articlesd-replica": replica, "haproxy": lb} {
		if !slices.Equal(s.Profiles, []string{"scale"}) {
			t.Errorf("%s profiles = %v, want [scale]", name, s.Profiles)
		}
		if s.Restart != "unless-stopped" {
			t.Errorf("%s restart = %q, want unless-stopped", name, s.Restart)
		}
		if hc := s.HealthCheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}

	// The replicas: the articlesd image, its database and token, no migration of their own.
	if replica.Image != api.Image || replica.Build == nil {
		t.Errorf("articlesd-replica image %q (build %v), want articlesd's %q built from the Dockerfile", replica.Image, replica.Build != nil, api.Image)
	}
	if !slices.Equal(replica.Command, types.ShellCommand{"serve", "--auto-migrate=false"}) {
		t.Errorf("articlesd-replica command = %v", replica.Command)
	}
	for _, key := range []string{"ARTICLESD_DATABASE_URL", "ARTICLESD_BOOTSTRAP_TOKEN", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"} {
		a, r := api.Environment[key], replica.Environment[key]
		if a == nil || r == nil || *a != *r {
			t.Errorf("articlesd-replica %s differs from articlesd's", key)
		}
	}
	// Only the compose network reaches the replicas, so trusting its private ranges
	// trusts HAProxy's X-Forwarded-For and nobody outside.
	if len(replica.Ports) != 0 {
		t.Errorf("articlesd-replica publishes %v: anyone could then send it a trusted X-Forwarded-For", replica.Ports)
	}
	if v := replica.Environment[envVariable("trusted-proxies")]; v == nil {
		t.Errorf("articlesd-replica does not trust HAProxy's X-Forwarded-For (%s unset)", envVariable("trusted-proxies"))
	} else if prefixes, err := parseProxies(*v); err != nil || len(prefixes) == 0 {
		t.Errorf("articlesd-replica %s=%q: %v", envVariable("trusted-proxies"), *v, err)
	}
	if n := replica.GetScale(); n < 2 || n > embedded.MaxResolvedReplicas {
		t.Errorf("articlesd-replica runs %d replicas, want 2 to %d (HAProxy's slots)", n, embedded.MaxResolvedReplicas)
	}
	for _, dep := range []string{"migrate", "postgres"} {
		if _, ok := replica.DependsOn[dep]; !ok {
			t.Errorf("articlesd-replica does not wait for %s", dep)
		}
	}
	// Docker waits this long after SIGTERM before SIGKILL: the drain and the stop.
	drain := composeReplicaDrain(t, replica)
	stop := defaults["shutdown-timeout"].(time.Duration)
	if replica.StopGracePeriod == nil || time.Duration(*replica.StopGracePeriod) < drain+stop {
		t.Errorf("articlesd-replica stop_grace_period %v, want at least the drain %s and --shutdown-timeout %s", replica.StopGracePeriod, drain, stop)
	}

	// HAProxy reads the provisioned file, after the replicas are up.
	if !slices.Contains([]string(lb.Command), "/stack/haproxy/haproxy.cfg") {
		t.Errorf("haproxy command %v does not read /stack/haproxy/haproxy.cfg", lb.Command)
	}
	if lb.DependsOn["articlesd-replica"].Condition != types.ServiceConditionHealthy {
		t.Errorf("haproxy does not wait for the replicas to be healthy")
	}

	// The addresses provision-grafana writes by default are these services'.
	def := embedded.DefaultStackParams()
	replicaPort := ""
	for _, r := range def.ReplicaList() {
		if !r.Resolved {
			t.Errorf("default replica %s is not the compose service's name", r.Addr())
			continue
		}
		if _, ok := p.Services[r.Host]; !ok {
			t.Errorf("default replica %s names no service of the scale profile", r.Addr())
		}
		replicaPort = r.Port
	}
	// The replicas listen where the image says (ARTICLESD_ADDR=:8080 in the Dockerfile).
	if _, set := replica.Environment["ARTICLESD_ADDR"]; set || replicaPort != "8080" || slices.Contains([]string(replica.Command), "--addr") {
		t.Errorf("the replicas listen on the image's :8080, HAProxy and Prometheus look for port %q", replicaPort)
	}
	targets := map[string]bool{}
	for _, pc := range lb.Ports {
		targets[strconv.Itoa(int(pc.Target))] = true
	}
	for _, addr := range []string{def.Balancer, def.BalancerStats} {
		if _, port, _ := strings.Cut(addr, ":"); !targets[port] {
			t.Errorf("HAProxy listens on %s, which the haproxy service does not publish (%v)", addr, lb.Ports)
		}
	}
}

// composeReplicaDrain is the --shutdown-drain the compose replicas run with.
func composeReplicaDrain(t *testing.T, replica types.ServiceConfig) time.Duration {
	t.Helper()
	v := replica.Environment[envVariable("shutdown-drain")]
	if v == nil {
		return defaults["shutdown-drain"].(time.Duration)
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		t.Fatalf("articlesd-replica %s=%q: %v", envVariable("shutdown-drain"), *v, err)
	}
	return d
}
