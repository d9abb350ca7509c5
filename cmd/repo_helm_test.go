package cmd

// Tests of the Helm chart (configs/helm/articlesd) without a cluster: Helm itself (a Go
// tool pinned in go.mod) lints and renders it, every rendered object is decoded as the
// API server decodes it (field names case-sensitive, no unknown or repeated field) into
// the types of k8s.io/api (the ServiceMonitor into the Prometheus operator's), and the
// objects are held to what articlesd needs: probes on its real paths and port, a grace
// period that its stop fits in, secrets from Secrets, migrations by a hook Job only, the
// image the image workflow publishes, nothing running as root.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distribution/reference"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"golang.org/x/mod/modfile"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/articlesd/articlesd/store/storetest"
)

// The chart and the production example, from the repository root.
var (
	helmChartDir   = filepath.Join("configs", "helm", "articlesd")
	helmProduction = filepath.Join("configs", "helm", "values-production.yaml")
)

// TestHelmChart lints and renders the chart with its default values, with the
// production example, and with a Secret the chart makes; checks every object; and shows
// that the checks catch each broken invariant and that the chart refuses values that
// cannot work.
func TestHelmChart(t *testing.T) {
	kube := helmKubeVersion(t)
	image := helmPublishedImage(t)
	appVersion := helmAppVersion(t, image)

	for _, values := range [][]string{nil, {"-f", helmProduction}} {
		args := append([]string{"lint", "--strict", "--kube-version", kube, helmChartDir}, values...)
		if out, err := helmRun(t, args...); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	renders := []struct {
		name string
		args []string
		want helmWant
	}{
		{"default values", nil, helmWant{image: image, tag: appVersion}},
		{"production values", []string{"-f", helmProduction}, helmWant{image: image, production: true}},
		{"a Secret made by the chart", []string{
			"--set", "secrets.create=true",
			"--set", "secrets.values.databaseUrl=postgres://app:pw@articles-pg-rw:5432/app",
			"--set", "secrets.databaseReadUrl.key=database-read-url",
			"--set", "secrets.values.databaseReadUrl=postgres://app:pw@articles-pg-ro:5432/app",
			"--set", "secrets.bootstrapToken.key=bootstrap-token",
			"--set", "secrets.values.bootstrapToken=a-token-of-24-characters",
		}, helmWant{image: image, tag: appVersion, madeSecret: true}},
	}
	var production *helmObjects
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			manifest := helmTemplate(t, kube, r.args...)
			objs, err := helmDecode(manifest)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range helmProblems(objs, r.want) {
				t.Error(p)
			}
			if r.want.production {
				production = objs
				helmStrictnessCaught(t, manifest)
			}
		})
	}
	if production == nil {
		t.Fatal("no production render to break")
	}
	t.Run("broken invariants caught", func(t *testing.T) {
		helmBreakagesCaught(t, production, helmWant{image: image, production: true})
	})

	t.Run("values refused", func(t *testing.T) {
		for _, c := range []struct{ set, says string }{
			{"env.ARTICLESD_DATABASE_URL=postgres://app:pw@db/app", "never a plain value"},
			{"shutdown.drainSeconds=15", "shorter than shutdown.timeoutSeconds"},
			{"secrets.create=true", "give secrets.values.databaseUrl"},
			{"metrics.enabled=false,metrics.serviceMonitor.enabled=true", "needs metrics.enabled"},
			{"shutdown.graceSeconds=60", "additional properties 'graceSeconds' not allowed"},
		} {
			out, err := helmRun(t, "template", "articlesd", helmChartDir, "--kube-version", kube, "--set", c.set)
			if err == nil {
				t.Errorf("--set %s: rendered; the chart must refuse it", c.set)
			} else if !strings.Contains(out, c.says) {
				t.Errorf("--set %s: refused without saying %q:\n%s", c.set, c.says, out)
			}
		}
	})
}

// helmRun runs `go tool helm ARGS` at the repository root with Helm's own folders in a
// temporary directory, and returns its output (stderr after stdout). The first run
// builds the tool: about 3 minutes on two cores with an empty build cache.
func helmRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		storetest.Skip(t, storetest.Helm, "the go command is not on PATH")
	}
	home := t.TempDir()
	cmd := exec.Command(goBin, append([]string{"tool", "helm"}, args...)...)
	cmd.Dir = filepath.Join("..")
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if d := time.Since(start); d > 10*time.Second {
		t.Logf("go tool helm %s took %s (building the tool)", args[0], d.Round(time.Second))
	}
	return stdout.String() + stderr.String(), err
}

// helmTemplate renders the chart as the release articlesd in the namespace articles.
func helmTemplate(t *testing.T, kube string, values ...string) string {
	t.Helper()
	args := append([]string{"template", "articlesd", helmChartDir, "--namespace", "articles", "--kube-version", kube}, values...)
	out, err := helmRun(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// helmKubeVersion is the Kubernetes version of the API types the test decodes into
// (k8s.io/api v0.X.Y is Kubernetes 1.X.Y): the version Helm renders for. Helm built as a
// Go tool would otherwise assume 1.20, older than the chart's kubeVersion.
func helmKubeVersion(t *testing.T) string {
	t.Helper()
	f := helmGoMod(t)
	for _, r := range f.Require {
		if r.Mod.Path == "k8s.io/api" {
			if v, ok := strings.CutPrefix(r.Mod.Version, "v0."); ok {
				return "1." + v
			}
			t.Fatalf("go.mod: k8s.io/api %s is not v0.X.Y", r.Mod.Version)
		}
	}
	t.Fatal("go.mod requires no k8s.io/api")
	return ""
}

func helmGoMod(t *testing.T) *modfile.File {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A publishedImage is what .github/workflows/image.yml pushes: a repository, and tags of
// the forms its metadata step makes.
type publishedImage struct {
	repository string           // ghcr.io/articlesd/articlesd
	release    *regexp.Regexp   // the tag of a release (v1.2.3 → 1.2.3)
	tags       []*regexp.Regexp // every form of tag it pushes
}

// helmPublishedImage derives the image from the workflow's own logic: the step that
// names the images builds ghcr.io/${REPOSITORY,,} from github.repository, which is the
// repository of the module path (github.com/OWNER/NAME); the metadata step's tag rules
// give the tags.
func helmPublishedImage(t *testing.T) publishedImage {
	t.Helper()
	module := helmGoMod(t).Module.Mod.Path
	parts := strings.Split(module, "/")
	if len(parts) < 3 || parts[0] != "github.com" {
		t.Fatalf("module path %s is not github.com/OWNER/NAME: the repository, and so the image, is unknown", module)
	}
	repository := parts[1] + "/" + parts[2]

	b, err := os.ReadFile(filepath.Join("..", ".github", "workflows", "image.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				ID   string            `json:"id"`
				Uses string            `json:"uses"`
				Env  map[string]string `json:"env"`
				Run  string            `json:"run"`
				With map[string]any    `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("image.yml: %v", err)
	}
	ghcrLine := regexp.MustCompile(`(?m)^\s*ghcr="([a-z0-9.-]+/)\$\{REPOSITORY,,\}"\s*$`)
	img := publishedImage{}
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			if m := ghcrLine.FindStringSubmatch(s.Run); m != nil && s.Env["REPOSITORY"] == "${{ github.repository }}" {
				if !strings.Contains(s.Run, `echo "$ghcr"`) {
					t.Errorf("image.yml step %q names ghcr but does not list it among the images", s.ID)
				}
				img.repository = m[1] + strings.ToLower(repository)
			}
			if strings.HasPrefix(s.Uses, "docker/metadata-action@") {
				rules, _ := s.With["tags"].(string)
				for _, rule := range strings.Split(strings.TrimSpace(rules), "\n") {
					rule = strings.TrimSpace(rule)
					re := helmTagForm(rule)
					if re == nil {
						t.Errorf("image.yml tags images by %q, a rule this test does not know: teach helmTagForm", rule)
						continue
					}
					if rule == "type=semver,pattern={{version}}" {
						img.release = re
					}
					img.tags = append(img.tags, re)
				}
			}
		}
	}
	if img.repository == "" {
		t.Fatal(`image.yml no longer builds the image name as ghcr="ghcr.io/${REPOSITORY,,}" from github.repository: update the chart's image.repository and this test`)
	}
	if img.release == nil {
		t.Fatal("image.yml no longer tags releases type=semver,pattern={{version}}: the chart's default tag (its appVersion) would not exist")
	}
	return img
}

// helmTagForm is the form of the tags a docker/metadata-action rule makes.
func helmTagForm(rule string) *regexp.Regexp {
	switch {
	case rule == "type=semver,pattern={{version}}":
		return regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	case rule == "type=semver,pattern={{major}}.{{minor}}":
		return regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	case strings.HasPrefix(rule, "type=ref,event=branch,enable=${{") && strings.Contains(rule, "refs/heads/main"):
		return regexp.MustCompile(`^main$`)
	case rule == "type=sha,format=short":
		return regexp.MustCompile(`^sha-[0-9a-f]{7}$`)
	}
	return nil
}

// helmAppVersion is the chart's appVersion, its default image tag: a release's tag.
func helmAppVersion(t *testing.T, img publishedImage) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", helmChartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &chart); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	if !img.release.MatchString(chart.AppVersion) {
		t.Errorf("Chart.yaml appVersion %q is no tag image.yml gives a release (1.2.3 for v1.2.3)", chart.AppVersion)
	}
	return chart.AppVersion
}

// helmObjects are the objects of one rendering, by type.
type helmObjects struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	budgets         []*policyv1.PodDisruptionBudget
	autoscalers     []*autoscalingv2.HorizontalPodAutoscaler
	jobs            []*batchv1.Job
	serviceMonitors []*monitoringv1.ServiceMonitor
}

// helmDocument separates the documents of a rendering.
var helmDocument = regexp.MustCompile(`(?m)^---[ \t]*$`)

// helmDecode decodes each document into the type of its apiVersion and kind; a type the
// chart is not meant to make is an error.
func helmDecode(manifest string) (*helmObjects, error) {
	objs := &helmObjects{}
	for i, doc := range helmDocument.Split(manifest, -1) {
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if string(js) == "null" { // only comments, or nothing
			continue
		}
		var tm metav1.TypeMeta
		if _, err := kjson.UnmarshalStrict(js, &tm, kjson.DisallowDuplicateFields); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var into any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			objs.deployments, into = append(objs.deployments, o), o
		case "v1 Service":
			o := &corev1.Service{}
			objs.services, into = append(objs.services, o), o
		case "v1 Secret":
			o := &corev1.Secret{}
			objs.secrets, into = append(objs.secrets, o), o
		case "v1 ServiceAccount":
			o := &corev1.ServiceAccount{}
			objs.serviceAccounts, into = append(objs.serviceAccounts, o), o
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			objs.budgets, into = append(objs.budgets, o), o
		case "autoscaling/v2 HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			objs.autoscalers, into = append(objs.autoscalers, o), o
		case "batch/v1 Job":
			o := &batchv1.Job{}
			objs.jobs, into = append(objs.jobs, o), o
		case "monitoring.coreos.com/v1 ServiceMonitor":
			o := &monitoringv1.ServiceMonitor{}
			objs.serviceMonitors, into = append(objs.serviceMonitors, o), o
		default:
			return nil, fmt.Errorf("document %d: %s %s, a type the chart is not meant to make", i, tm.APIVersion, tm.Kind)
		}
		strict, err := kjson.UnmarshalStrict(js, into)
		if err == nil {
			err = errors.Join(strict...)
		}
		if err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err)
		}
	}
	return objs, nil
}

// helmWant is what a rendering must hold beyond the invariants.
type helmWant struct {
	image      publishedImage
	tag        string // the image's tag; empty: any tag the workflow publishes
	production bool   // an autoscaler, a budget, a ServiceMonitor, and the read replicas' URL
	madeSecret bool   // the chart makes the Secret
}

// The environment variables of articlesd's secret settings, from the table of settings.
func helmSecretVariables() []string {
	var names []string
	for _, s := range settings {
		if s.secret {
			names = append(names, envVariable(s.key))
		}
	}
	return names
}

// helmProblems lists what is wrong with a rendering, one line each.
func helmProblems(o *helmObjects, want helmWant) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(o.deployments) != 1 || len(o.services) != 1 || len(o.jobs) != 1 {
		add("want one Deployment, one Service and one migration Job; got %d, %d and %d", len(o.deployments), len(o.services), len(o.jobs))
		return problems
	}
	dep, svc, job := o.deployments[0], o.services[0], o.jobs[0]
	pod := dep.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		add("the Deployment's pod has %d containers, not articlesd alone", len(pod.Spec.Containers))
		return problems
	}
	c := pod.Spec.Containers[0]
	env := helmEnv(c)

	problems = append(problems, helmPodProblems("the Deployment's pod", pod.Spec)...)
	problems = append(problems, helmPodProblems("the migration Job's pod", job.Spec.Template.Spec)...)
	problems = append(problems, helmImageProblems("the Deployment", c.Image, want)...)

	// The command: serve (the image's ENTRYPOINT is /articlesd), never migrating.
	if len(c.Command) != 0 || !(len(c.Args) == 0 || slices.Equal(c.Args, []string{"serve"})) {
		add("the Deployment runs %q %q, not articlesd serve", c.Command, c.Args)
	}
	if v, ok := env["ARTICLESD_AUTO_MIGRATE"]; !ok || v.ValueFrom != nil {
		add("the pods do not set ARTICLESD_AUTO_MIGRATE=false: every pod would migrate at start (the default is true)")
	} else if b, err := strconv.ParseBool(v.Value); err != nil || b {
		add("the pods have ARTICLESD_AUTO_MIGRATE=%q; migrations are the Job's, so false", v.Value)
	}

	// The port: what articlesd listens on is what the container declares and the
	// probes and the Service reach.
	addr := fmt.Sprint(defaults["addr"])
	if v, ok := env["ARTICLESD_ADDR"]; ok {
		addr = v.Value
	}
	_, portText, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil {
		add("ARTICLESD_ADDR %q has no port", addr)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return int(p.ContainerPort) == port }) {
		add("the container does not declare port %d, where articlesd listens (ARTICLESD_ADDR %q)", port, addr)
	}
	for _, p := range []struct {
		name, path string
		probe      *corev1.Probe
	}{{"readiness", "/readyz", c.ReadinessProbe}, {"liveness", "/healthz", c.LivenessProbe}} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			add("the container has no HTTP %s probe", p.name)
		case p.probe.HTTPGet.Path != p.path:
			add("the %s probe asks %s, not %s", p.name, p.probe.HTTPGet.Path, p.path)
		case helmPort(c, p.probe.HTTPGet.Port) != port:
			add("the %s probe asks port %s, not %d where articlesd listens", p.name, p.probe.HTTPGet.Port.String(), port)
		case p.probe.HTTPGet.Scheme != "" && p.probe.HTTPGet.Scheme != corev1.URISchemeHTTP:
			add("the %s probe speaks %s; articlesd serves plain HTTP", p.name, p.probe.HTTPGet.Scheme)
		}
	}

	// Stopping: preStop sleep, then SIGTERM, the drain, requests in flight; all within
	// the grace period, with a margin.
	var sleep time.Duration
	if h := c.Lifecycle; h != nil && h.PreStop != nil {
		switch {
		case h.PreStop.Sleep != nil:
			sleep = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
		case h.PreStop.Exec != nil:
			add("the preStop hook execs %q: the image (scratch) has no shell nor sleep binary; use the sleep action", h.PreStop.Exec.Command)
		}
	}
	if sleep == 0 {
		add("no preStop sleep: the pod stops while endpoints and balancers still send it requests")
	}
	drain := helmDuration(env, "shutdown-drain", &problems)
	timeout := helmDuration(env, "shutdown-timeout", &problems)
	grace := 30 * time.Second // Kubernetes' default
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if need := sleep + drain + timeout; grace <= need {
		add("terminationGracePeriodSeconds %s leaves no margin after preStop sleep %s + ARTICLESD_SHUTDOWN_DRAIN %s + ARTICLESD_SHUTDOWN_TIMEOUT %s = %s: requests in flight get SIGKILL",
			grace, sleep, drain, timeout, need)
	}
	if drain >= timeout {
		add("ARTICLESD_SHUTDOWN_DRAIN %s is not shorter than ARTICLESD_SHUTDOWN_TIMEOUT %s: articlesd refuses to start", drain, timeout)
	}

	// Secrets: from Secrets, the same for the pods and the Job.
	dbURL, ok := env["ARTICLESD_DATABASE_URL"]
	if !ok {
		add("the pods have no ARTICLESD_DATABASE_URL: they would run the embedded database on a read-only file system")
	}
	if want.production {
		if _, ok := env["ARTICLESD_DATABASE_READ_URL"]; !ok {
			add("the production pods have no ARTICLESD_DATABASE_READ_URL (the read replicas)")
		}
	}
	jobEnv := map[string]corev1.EnvVar{}
	if len(job.Spec.Template.Spec.Containers) != 1 {
		add("the migration Job's pod has %d containers, not one", len(job.Spec.Template.Spec.Containers))
	} else {
		jc := job.Spec.Template.Spec.Containers[0]
		jobEnv = helmEnv(jc)
		if !slices.Equal(jc.Args, []string{"migrate", "up"}) || len(jc.Command) != 0 {
			add("the migration Job runs %q %q, not articlesd migrate up", jc.Command, jc.Args)
		}
		if jc.Image != c.Image {
			add("the migration Job runs image %s, the pods %s: the schema would not be the pods'", jc.Image, c.Image)
		}
		if j, ok := jobEnv["ARTICLESD_DATABASE_URL"]; !ok || !helmSameSecret(j, dbURL) {
			add("the migration Job does not read ARTICLESD_DATABASE_URL from the pods' Secret and key")
		}
	}
	var refs []*corev1.SecretKeySelector
	for _, e := range []map[string]corev1.EnvVar{env, jobEnv} {
		for _, name := range helmSecretVariables() {
			v, ok := e[name]
			switch {
			case !ok:
			case v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil:
				add("%s is no secretKeyRef: a secret in the pod spec, readable by whoever reads Deployments", name)
			default:
				refs = append(refs, v.ValueFrom.SecretKeyRef)
			}
		}
	}

	// The hook Job: before install and upgrade, and never behind the Service.
	hooks := strings.Split(job.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		add("the migration Job's helm.sh/hook is %q, not pre-install,pre-upgrade", job.Annotations["helm.sh/hook"])
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		add("the migration Job's restartPolicy is %q", job.Spec.Template.Spec.RestartPolicy)
	}
	jobPods := labels.Set(job.Spec.Template.Labels)

	// A Secret the chart makes: a hook before the Job, holding every key read from it.
	if wantSecrets := map[bool]int{false: 0, true: 1}[want.madeSecret]; len(o.secrets) != wantSecrets {
		add("the rendering has %d Secrets; want %d", len(o.secrets), wantSecrets)
	}
	for _, s := range o.secrets {
		if hooks := strings.Split(s.Annotations["helm.sh/hook"], ","); !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
			add("the Secret %s is no pre-install,pre-upgrade hook: the migration Job, a hook, would start before it exists", s.Name)
		}
		if helmWeight(s.Annotations) >= helmWeight(job.Annotations) {
			add("the Secret's hook weight is not below the Job's: the Job may start before it")
		}
		for _, r := range refs {
			_, inData := s.Data[r.Key]
			_, inString := s.StringData[r.Key]
			if r.Name == s.Name && !inData && !inString {
				add("the pods read key %s of the Secret %s, which has no such key", r.Key, s.Name)
			}
		}
	}

	// Every ARTICLESD_* variable is a setting: a misspelt one sets nothing.
	known := map[string]bool{}
	for k := range defaults {
		known[envVariable(k)] = true
	}
	for _, e := range []map[string]corev1.EnvVar{env, jobEnv} {
		for name := range e {
			if strings.HasPrefix(name, envPrefix+"_") && !known[name] {
				add("%s is no setting of articlesd's (cmd/settings.go): it sets nothing", name)
			}
		}
	}

	// The Service: the serving pods, on the port articlesd listens on.
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	switch {
	case len(svc.Spec.Selector) == 0 || !sel.Matches(labels.Set(pod.Labels)):
		add("the Service's selector %v does not select the Deployment's pods", svc.Spec.Selector)
	case sel.Matches(jobPods):
		add("the Service's selector %v selects the migration Job's pod too", svc.Spec.Selector)
	}
	for _, p := range svc.Spec.Ports {
		if helmPort(c, p.TargetPort) != port {
			add("the Service's port %s goes to %s, not to %d where articlesd listens", p.Name, p.TargetPort.String(), port)
		}
	}

	// The budget.
	for _, b := range o.budgets {
		s, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(labels.Set(pod.Labels)) || s.Matches(jobPods) {
			add("the PodDisruptionBudget's selector does not select the serving pods alone")
		}
		if (b.Spec.MaxUnavailable == nil) == (b.Spec.MinAvailable == nil) {
			add("the PodDisruptionBudget must set one of maxUnavailable and minAvailable")
		}
	}

	// The autoscaler: the Deployment, on CPU against a CPU request.
	for _, h := range o.autoscalers {
		ref := h.Spec.ScaleTargetRef
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != dep.Name {
			add("the HorizontalPodAutoscaler scales %s %s %s, not the Deployment %s", ref.APIVersion, ref.Kind, ref.Name, dep.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			add("the HorizontalPodAutoscaler's replicas are not 1 ≤ min ≤ max")
		}
		if !slices.ContainsFunc(h.Spec.Metrics, func(m autoscalingv2.MetricSpec) bool {
			return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
				m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil
		}) {
			add("the HorizontalPodAutoscaler does not scale on CPU utilisation")
		}
		if c.Resources.Requests.Cpu().IsZero() {
			add("the container requests no CPU: the autoscaler has no utilisation to measure")
		}
		if dep.Spec.Replicas != nil {
			add("the Deployment sets replicas beside the autoscaler: each upgrade would reset its count")
		}
	}

	// The ServiceMonitor: the Service's port, where /metrics is served.
	for _, m := range o.serviceMonitors {
		s, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(labels.Set(svc.Labels)) {
			add("the ServiceMonitor's selector does not select the Service")
		}
		for _, ep := range m.Spec.Endpoints {
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
				add("the ServiceMonitor scrapes port %q, which the Service has not", ep.Port)
			}
			if ep.Path != "/metrics" {
				add("the ServiceMonitor scrapes %q, not /metrics", ep.Path)
			}
		}
		if v, ok := env["ARTICLESD_METRICS"]; ok {
			if b, err := strconv.ParseBool(v.Value); err != nil || !b {
				add("a ServiceMonitor, but ARTICLESD_METRICS=%q: nothing to scrape", v.Value)
			}
		}
	}

	if want.production && (len(o.autoscalers) != 1 || len(o.budgets) != 1 || len(o.serviceMonitors) != 1) {
		add("the production values render %d HorizontalPodAutoscalers, %d PodDisruptionBudgets and %d ServiceMonitors; want one each",
			len(o.autoscalers), len(o.budgets), len(o.serviceMonitors))
	}
	return problems
}

// helmPodProblems lists what breaks the pod's security: root, a writable root file
// system, privileges, a service account token, service links in the environment.
func helmPodProblems(what string, spec corev1.PodSpec) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, what+": "+fmt.Sprintf(format, args...)) }
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		add("shares the node's namespaces")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		add("mounts a service account token; articlesd never calls the Kubernetes API")
	}
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		add("enableServiceLinks is not false: a Service named articlesd puts ARTICLESD_PORT and the like among articlesd's settings")
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := cmpOr(sc.RunAsNonRoot, psc.RunAsNonRoot)
		user := cmpOr(sc.RunAsUser, psc.RunAsUser)
		seccomp := cmpOr(sc.SeccompProfile, psc.SeccompProfile)
		switch {
		case nonRoot == nil || !*nonRoot:
			add("container %s may run as root (runAsNonRoot is not true)", c.Name)
		case user == nil || *user == 0:
			add("container %s has no runAsUser other than root (0)", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			add("container %s has no read-only root file system", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || (sc.Privileged != nil && *sc.Privileged) {
			add("container %s may gain privileges", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			add("container %s does not drop all capabilities", c.Name)
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			add("container %s has no RuntimeDefault seccomp profile", c.Name)
		}
		if len(c.EnvFrom) > 0 {
			add("container %s takes a whole ConfigMap or Secret as environment (envFrom): which settings it sets is unknown", c.Name)
		}
		seen := map[string]bool{}
		for _, e := range c.Env {
			if seen[e.Name] {
				add("container %s sets %s twice", c.Name, e.Name)
			}
			seen[e.Name] = true
		}
	}
	return problems
}

// cmpOr returns the first of its pointers that is not nil (a container's field, else its
// pod's).
func cmpOr[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// helmImageProblems: the image is the repository the workflow pushes, with a tag it
// pushes (the wanted one where given).
func helmImageProblems(what, image string, want helmWant) []string {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return []string{fmt.Sprintf("%s's image %q: %v", what, image, err)}
	}
	if ref.Name() != want.image.repository {
		return []string{fmt.Sprintf("%s runs %s, not %s, where image.yml publishes", what, ref.Name(), want.image.repository)}
	}
	tagged, ok := ref.(reference.Tagged)
	switch {
	case !ok:
		return []string{fmt.Sprintf("%s's image %s has no tag", what, image)}
	case want.tag != "" && tagged.Tag() != want.tag:
		return []string{fmt.Sprintf("%s's image has the tag %s, not %s (the chart's appVersion)", what, tagged.Tag(), want.tag)}
	case !slices.ContainsFunc(want.image.tags, func(re *regexp.Regexp) bool { return re.MatchString(tagged.Tag()) }):
		return []string{fmt.Sprintf("%s's image has the tag %s, which image.yml never publishes", what, tagged.Tag())}
	}
	return nil
}

// helmEnv is a container's environment by name.
func helmEnv(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// helmDuration is a duration setting as the pod's environment sets it, else its default.
func helmDuration(env map[string]corev1.EnvVar, key string, problems *[]string) time.Duration {
	def := defaults[key].(time.Duration)
	v, ok := env[envVariable(key)]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil || v.ValueFrom != nil {
		*problems = append(*problems, fmt.Sprintf("%s=%q is not a plain duration the test can add up", v.Name, v.Value))
		return def
	}
	return d
}

// helmPort is the number of a port given by number or by the container's port name (0:
// none).
func helmPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return int(p.IntVal)
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

// helmSameSecret: two variables read the same key of the same Secret.
func helmSameSecret(a, b corev1.EnvVar) bool {
	if a.ValueFrom == nil || b.ValueFrom == nil || a.ValueFrom.SecretKeyRef == nil || b.ValueFrom.SecretKeyRef == nil {
		return false
	}
	x, y := a.ValueFrom.SecretKeyRef, b.ValueFrom.SecretKeyRef
	return x.Name == y.Name && x.Key == y.Key
}

// helmWeight is a hook's helm.sh/hook-weight (0 when not given).
func helmWeight(annotations map[string]string) int {
	w, _ := strconv.Atoi(annotations["helm.sh/hook-weight"])
	return w
}

// helmStrictnessCaught: a misspelt field, a field in the wrong case and a repeated field
// each fail the decoding, as they fail at the API server.
func helmStrictnessCaught(t *testing.T, manifest string) {
	t.Helper()
	for _, c := range []struct{ name, from, to string }{
		{"unknown field", "readinessProbe:", "readynessProbe:"},
		{"field in the wrong case", "readinessProbe:", "ReadinessProbe:"},
		{"repeated field", "  terminationGracePeriodSeconds:", "  enableServiceLinks: false\n      terminationGracePeriodSeconds:"},
	} {
		broken := strings.Replace(manifest, c.from, c.to, 1)
		if broken == manifest {
			t.Errorf("%s: the rendering has no %q to break", c.name, c.from)
			continue
		}
		if _, err := helmDecode(broken); err == nil {
			t.Errorf("%s: decoded without an error", c.name)
		}
	}
}

// helmBreakagesCaught breaks one invariant at a time in a copy of a good rendering and
// checks that helmProblems reports it.
func helmBreakagesCaught(t *testing.T, good *helmObjects, want helmWant) {
	container := func(o *helmObjects) *corev1.Container { return &o.deployments[0].Spec.Template.Spec.Containers[0] }
	setEnv := func(c *corev1.Container, e corev1.EnvVar) {
		for i := range c.Env {
			if c.Env[i].Name == e.Name {
				c.Env[i] = e
				return
			}
		}
		c.Env = append(c.Env, e)
	}
	for _, b := range []struct {
		name, says string
		breakIt    func(o *helmObjects)
	}{
		{"grace without margin", "terminationGracePeriodSeconds", func(o *helmObjects) {
			g := container(o).Lifecycle.PreStop.Sleep.Seconds + 2 + 20
			o.deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}},
		{"longer drain", "terminationGracePeriodSeconds", func(o *helmObjects) {
			setEnv(container(o), corev1.EnvVar{Name: "ARTICLESD_SHUTDOWN_TIMEOUT", Value: "1m"})
		}},
		{"no preStop", "preStop", func(o *helmObjects) { container(o).Lifecycle = nil }},
		{"readiness on /healthz", "/readyz", func(o *helmObjects) { container(o).ReadinessProbe.HTTPGet.Path = "/healthz" }},
		{"liveness on another port", "liveness probe asks port", func(o *helmObjects) {
			container(o).LivenessProbe.HTTPGet.Port = intstr.FromInt32(9090)
		}},
		{"listening elsewhere", "does not declare port", func(o *helmObjects) {
			setEnv(container(o), corev1.EnvVar{Name: "ARTICLESD_ADDR", Value: ":9000"})
		}},
		{"root", "root", func(o *helmObjects) { container(o).SecurityContext.RunAsUser = new(int64) }},
		{"root Job", "migration Job's pod: container migrate", func(o *helmObjects) {
			o.jobs[0].Spec.Template.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
			o.jobs[0].Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}},
		{"writable root file system", "read-only", func(o *helmObjects) {
			f := false
			container(o).SecurityContext.ReadOnlyRootFilesystem = &f
		}},
		{"service links", "enableServiceLinks", func(o *helmObjects) { o.deployments[0].Spec.Template.Spec.EnableServiceLinks = nil }},
		{"plain database URL", "ARTICLESD_DATABASE_URL is no secretKeyRef", func(o *helmObjects) {
			setEnv(container(o), corev1.EnvVar{Name: "ARTICLESD_DATABASE_URL", Value: "postgres://app:pw@db/app"})
		}},
		{"plain token in the Job", "ARTICLESD_BOOTSTRAP_TOKEN is no secretKeyRef", func(o *helmObjects) {
			setEnv(&o.jobs[0].Spec.Template.Spec.Containers[0], corev1.EnvVar{Name: "ARTICLESD_BOOTSTRAP_TOKEN", Value: "a-token-of-24-characters"})
		}},
		{"no read URL", "ARTICLESD_DATABASE_READ_URL", func(o *helmObjects) {
			c := container(o)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "ARTICLESD_DATABASE_READ_URL" })
		}},
		{"pods migrate", "ARTICLESD_AUTO_MIGRATE", func(o *helmObjects) {
			c := container(o)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "ARTICLESD_AUTO_MIGRATE" })
		}},
		{"misspelt setting", "no setting", func(o *helmObjects) {
			setEnv(container(o), corev1.EnvVar{Name: "ARTICLESD_LOG_LEVLE", Value: "debug"})
		}},
		{"Job no hook", "helm.sh/hook", func(o *helmObjects) { delete(o.jobs[0].Annotations, "helm.sh/hook") }},
		{"Job serves", "not articlesd migrate up", func(o *helmObjects) {
			o.jobs[0].Spec.Template.Spec.Containers[0].Args = []string{"serve"}
		}},
		{"Job on another database", "migration Job does not read", func(o *helmObjects) {
			for _, e := range o.jobs[0].Spec.Template.Spec.Containers[0].Env {
				if e.Name == "ARTICLESD_DATABASE_URL" {
					e.ValueFrom.SecretKeyRef.Key = "other"
				}
			}
		}},
		{"image elsewhere", "where image.yml publishes", func(o *helmObjects) {
			container(o).Image = "registry.example/articlesd/articlesd:0.1.0"
		}},
		{"unpublished tag", "never publishes", func(o *helmObjects) {
			container(o).Image = want.image.repository + ":latest"
		}},
		{"Service selects the Job", "migration Job's pod too", func(o *helmObjects) {
			delete(o.services[0].Spec.Selector, "app.kubernetes.io/component")
		}},
		{"ServiceMonitor on a missing port", "which the Service has not", func(o *helmObjects) {
			o.serviceMonitors[0].Spec.Endpoints[0].Port = "metrics"
		}},
		{"no autoscaler", "HorizontalPodAutoscalers", func(o *helmObjects) { o.autoscalers = nil }},
		{"replicas beside the autoscaler", "reset its count", func(o *helmObjects) {
			n := int32(3)
			o.deployments[0].Spec.Replicas = &n
		}},
	} {
		o := good.deepCopy()
		b.breakIt(o)
		problems := helmProblems(o, want)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, b.says) }) {
			t.Errorf("%s: not reported (want a problem saying %q); reported: %q", b.name, b.says, problems)
		}
	}
}

func (o *helmObjects) deepCopy() *helmObjects {
	return &helmObjects{
		deployments:     helmCopies(o.deployments),
		services:        helmCopies(o.services),
		secrets:         helmCopies(o.secrets),
		serviceAccounts: helmCopies(o.serviceAccounts),
		budgets:         helmCopies(o.budgets),
		autoscalers:     helmCopies(o.autoscalers),
		jobs:            helmCopies(o.jobs),
		serviceMonitors: helmCopies(o.serviceMonitors),
	}
}

func helmCopies[T interface{ DeepCopy() T }](s []T) []T {
	var c []T
	for _, x := range s {
		c = append(c, x.DeepCopy())
	}
	return c
}
