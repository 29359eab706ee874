package kubernetes

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/expbot/expbot/internal/config"
)

// pending are variables the manifests set for a feature expbot does not have
// yet, with the issue that adds it. The test fails once expbot reads one, so
// that the entry is removed.
var pending = map[string]string{}

// The bot's HTTP endpoints (internal/app).
const (
	healthPath  = "/healthz"
	readyPath   = "/readyz"
	metricsPath = "/metrics"
	webhookPath = "/webhooks/"
)

// rendered is one overlay's output, each object decoded into its type.
type rendered struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	claims      []corev1.PersistentVolumeClaim
	accounts    []corev1.ServiceAccount
	budgets     []policyv1.PodDisruptionBudget
	ingresses   []networkingv1.Ingress
}

// render runs kustomize on an overlay and decodes every object strictly:
// a field the Kubernetes type lacks, or a kind the test does not know,
// fails.
func render(t *testing.T, overlay string) rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), path.Join("overlays", overlay))
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", overlay, err)
	}
	var out rendered
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var target any
		switch r.GetKind() {
		case "Deployment":
			out.deployments = append(out.deployments, appsv1.Deployment{})
			target = &out.deployments[len(out.deployments)-1]
		case "Service":
			out.services = append(out.services, corev1.Service{})
			target = &out.services[len(out.services)-1]
		case "PersistentVolumeClaim":
			out.claims = append(out.claims, corev1.PersistentVolumeClaim{})
			target = &out.claims[len(out.claims)-1]
		case "ServiceAccount":
			out.accounts = append(out.accounts, corev1.ServiceAccount{})
			target = &out.accounts[len(out.accounts)-1]
		case "PodDisruptionBudget":
			out.budgets = append(out.budgets, policyv1.PodDisruptionBudget{})
			target = &out.budgets[len(out.budgets)-1]
		case "Ingress":
			out.ingresses = append(out.ingresses, networkingv1.Ingress{})
			target = &out.ingresses[len(out.ingresses)-1]
		default:
			// Secrets and ConfigMaps included: secrets are created by the
			// operator, never rendered from the repository.
			t.Fatalf("overlays/%s renders a %s (%s), which this test does not check", overlay, r.GetKind(), r.GetName())
		}
		if err := yaml.UnmarshalStrict(y, target); err != nil {
			t.Fatalf("overlays/%s: %s %s does not decode strictly: %v\n%s", overlay, r.GetKind(), r.GetName(), err, y)
		}
	}
	if len(out.deployments) != 1 {
		t.Fatalf("overlays/%s renders %d deployments, want 1", overlay, len(out.deployments))
	}
	return out
}

func TestSingle(t *testing.T) {
	out := render(t, "single")
	d := out.deployments[0]
	checkBot(t, out)
	if r := d.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("replicas = %v, want 1: SQLite allows one process per data directory", r)
	}
	data := volume(t, d, "data")
	if data.PersistentVolumeClaim == nil || data.EmptyDir != nil {
		t.Fatalf("the data volume is %+v, want only a persistent volume claim", data.VolumeSource)
	}
	if !slices.ContainsFunc(out.claims, func(c corev1.PersistentVolumeClaim) bool { return c.Name == data.PersistentVolumeClaim.ClaimName }) {
		t.Errorf("the data volume claims %q, which is not rendered", data.PersistentVolumeClaim.ClaimName)
	}
	if v := env(t, d, "EXPBOT_STORE_URL"); v != nil {
		t.Errorf("the single overlay sets EXPBOT_STORE_URL; it uses SQLite on its volume")
	}
}

func TestReplicas(t *testing.T) {
	out := render(t, "replicas")
	d := out.deployments[0]
	checkBot(t, out)
	if r := d.Spec.Replicas; r == nil || *r < 2 {
		t.Errorf("replicas = %v, want several", r)
	}
	if len(out.claims) != 0 {
		t.Errorf("%d volume claims rendered: the pods share PostgreSQL, no volume", len(out.claims))
	}
	if v := env(t, d, "EXPBOT_PULUMI_BACKEND_URL"); v != nil {
		t.Errorf("EXPBOT_PULUMI_BACKEND_URL is set (%+v): the Pulumi state's default is the store's database", v)
	}
	if l := d.Spec.Template.Spec.Containers[0].Lifecycle; l == nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Sleep.Seconds <= 0 {
		t.Errorf("no preStop sleep: a pod would stop taking connections while the Service still sends it webhooks")
	}
}

// TestScaleRulesCatch makes the rendered replicas overlay wrong in each way
// scaleProblems is there to catch, and checks that it says so.
func TestScaleRulesCatch(t *testing.T) {
	two := int32(2)
	for _, c := range []struct {
		name   string
		mutate func(*appsv1.Deployment, *[]policyv1.PodDisruptionBudget)
		want   string
	}{
		{"no store", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			unsetEnv(d, "EXPBOT_STORE_URL")
		}, "EXPBOT_STORE_URL"},
		{"store in plain text", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			unsetEnv(d, "EXPBOT_STORE_URL")
			addEnv(d, corev1.EnvVar{Name: "EXPBOT_STORE_URL", Value: "postgres://expbot:pw@db/expbot"})
		}, "EXPBOT_STORE_URL"},
		{"pulumi state on a file", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			addEnv(d, corev1.EnvVar{Name: "EXPBOT_PULUMI_BACKEND_URL", Value: "file:///data/pulumi/state"})
		}, "EXPBOT_PULUMI_BACKEND_URL"},
		{"one claimed volume", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			for i, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == "data" {
					d.Spec.Template.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "expbot-data"}}
				}
			}
		}, "volume claim"},
		{"no budget", func(_ *appsv1.Deployment, b *[]policyv1.PodDisruptionBudget) { *b = nil }, "disruption budget"},
		{"budget blocks drains", func(_ *appsv1.Deployment, b *[]policyv1.PodDisruptionBudget) {
			zero := intstr.FromInt32(0)
			(*b)[0].Spec.MaxUnavailable = &zero
		}, "disruption budget"},
		{"budget lets all go", func(d *appsv1.Deployment, b *[]policyv1.PodDisruptionBudget) {
			all := intstr.FromInt32(*d.Spec.Replicas)
			(*b)[0].Spec.MaxUnavailable = &all
		}, "disruption budget"},
		{"rolling update drops capacity", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			one := intstr.FromInt32(1)
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = &one
		}, "maxUnavailable"},
		{"grace too short", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			g := int64(30)
			d.Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds"},
		{"single on SQLite scaled up", func(d *appsv1.Deployment, _ *[]policyv1.PodDisruptionBudget) {
			unsetEnv(d, "EXPBOT_STORE_URL")
			d.Spec.Replicas = &two
		}, "SQLite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := render(t, "replicas")
			if p := scaleProblems(out.deployments[0], out.budgets); len(p) != 0 {
				t.Fatalf("the overlay as it is: %v", p)
			}
			c.mutate(&out.deployments[0], &out.budgets)
			p := scaleProblems(out.deployments[0], out.budgets)
			if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, c.want) }) {
				t.Errorf("problems %q, want one about %s", p, c.want)
			}
		})
	}
	single := render(t, "single")
	d := single.deployments[0]
	d.Spec.Replicas = &two
	if p := scaleProblems(d, single.budgets); len(p) == 0 {
		t.Error("the single overlay with two replicas passes")
	}
}

// interruptedExit is how long after shutdown_grace expbot may still take
// to exit: an interrupted update ends and releases its stack (README
// "Stopping, crashes and power cuts": shutdown_grace + 15 s).
const interruptedExit = 15 * time.Second

// scaleProblems says what is wrong with a deployment's number of pods and
// their stopping: several pods need the shared PostgreSQL store (SQLite is
// one process's), no shared volume, a disruption budget that lets drains
// go one pod at a time, and rolling updates that keep every pod serving;
// any pod must be given the time to hand its work back.
func scaleProblems(d appsv1.Deployment, budgets []policyv1.PodDisruptionBudget) []string {
	var p []string
	c := d.Spec.Template.Spec.Containers[0]
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	var store, backend *corev1.EnvVar
	for i, e := range c.Env {
		switch e.Name {
		case "EXPBOT_STORE_URL":
			store = &c.Env[i]
		case "EXPBOT_PULUMI_BACKEND_URL":
			backend = &c.Env[i]
		}
	}

	grace := config.Defaults().ShutdownGrace
	for _, e := range c.Env {
		if e.Name == "EXPBOT_SHUTDOWN_GRACE" {
			g, err := time.ParseDuration(e.Value)
			if err != nil {
				p = append(p, fmt.Sprintf("EXPBOT_SHUTDOWN_GRACE=%q: %v", e.Value, err))
			}
			grace = g
		}
	}
	need := grace + interruptedExit
	if l := c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		need += time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	if tg := d.Spec.Template.Spec.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second < need {
		p = append(p, fmt.Sprintf("terminationGracePeriodSeconds %v is under %v (preStop, shutdown_grace, an interrupted update): running work would be killed instead of handed back", tg, need))
	}

	if store == nil {
		if replicas != 1 {
			p = append(p, fmt.Sprintf("%d replicas on SQLite (EXPBOT_STORE_URL unset): one process per data directory", replicas))
		}
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			p = append(p, fmt.Sprintf("strategy %q on SQLite: want Recreate, the old pod must let go of the database first", d.Spec.Strategy.Type))
		}
		if len(budgets) != 0 {
			p = append(p, "a disruption budget for one pod blocks node drains")
		}
		return p
	}
	if replicas < 2 {
		return p
	}
	if store.ValueFrom == nil || store.ValueFrom.SecretKeyRef == nil {
		p = append(p, "EXPBOT_STORE_URL is not from a Secret: it holds the database password")
	}
	if backend != nil && backend.ValueFrom == nil && strings.HasPrefix(backend.Value, "file://") {
		p = append(p, fmt.Sprintf("EXPBOT_PULUMI_BACKEND_URL=%q: each pod would have a Pulumi state of its own", backend.Value))
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			p = append(p, fmt.Sprintf("volume %s is a volume claim: %d pods on different nodes cannot share it, and need not", v.Name, replicas))
		}
	}
	if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		p = append(p, fmt.Sprintf("strategy %+v: want a rolling update with maxUnavailable 0, so that a new pod is ready before an old one goes", s))
	}
	var budget *policyv1.PodDisruptionBudget
	for i, b := range budgets {
		if b.Spec.Selector != nil && selects(b.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			budget = &budgets[i]
		}
	}
	switch {
	case budget == nil:
		p = append(p, "no disruption budget selects the pods: a drain may take all of them at once")
	case budget.Spec.MaxUnavailable == nil || budget.Spec.MaxUnavailable.Type != intstr.Int:
		p = append(p, fmt.Sprintf("disruption budget %+v: want maxUnavailable as a number of pods", budget.Spec))
	case budget.Spec.MaxUnavailable.IntValue() < 1:
		p = append(p, "the disruption budget allows no pod to go: it blocks node drains")
	case budget.Spec.MaxUnavailable.IntValue() >= int(replicas):
		p = append(p, fmt.Sprintf("the disruption budget lets %d of %d pods go at once", budget.Spec.MaxUnavailable.IntValue(), replicas))
	}
	return p
}

func unsetEnv(d *appsv1.Deployment, name string) {
	c := &d.Spec.Template.Spec.Containers[0]
	c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func addEnv(d *appsv1.Deployment, e corev1.EnvVar) {
	c := &d.Spec.Template.Spec.Containers[0]
	c.Env = append(c.Env, e)
}

// checkBot checks what every overlay must hold for the bot's pod.
func checkBot(t *testing.T, out rendered) {
	t.Helper()
	d := out.deployments[0]
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the bot alone", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("the deployment's selector %v does not select its pods %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}

	for _, problem := range scaleProblems(d, out.budgets) {
		t.Error(problem)
	}

	// Every variable is one the bot reads; secrets only by reference.
	known, secret := config.Environment()
	for name, why := range pending {
		if slices.Contains(known, name) {
			t.Errorf("expbot reads %s now: remove it from pending (%s)", name, why)
		}
	}
	secretFiles := map[string]bool{} // mount paths of Secret volumes
	for _, m := range c.VolumeMounts {
		if v := volume(t, d, m.Name); v.Secret != nil {
			secretFiles[m.MountPath] = true
		}
	}
	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom %+v: list variables one by one, so that each is checked", c.EnvFrom)
	}
	for _, e := range c.Env {
		if !slices.Contains(known, e.Name) && pending[e.Name] == "" {
			t.Errorf("%s is not a variable expbot reads (internal/config)", e.Name)
		}
		if (secret[e.Name] || pending[e.Name] != "" || e.Name == "EXPBOT_PULUMI_BACKEND_URL") && e.Value != "" {
			t.Errorf("%s has its value in plain text; take it from a Secret", e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s comes from %+v; only Secrets are expected", e.Name, e.ValueFrom)
		}
		if strings.HasSuffix(e.Name, "_FILE") && !secretFiles[path.Dir(e.Value)] {
			t.Errorf("%s=%s is not in a Secret volume (mounted at %v)", e.Name, e.Value, secretFiles)
		}
	}

	// Probes and scraping at the port the bot listens on.
	listen := env(t, d, "EXPBOT_LISTEN")
	if listen == nil {
		t.Fatal("EXPBOT_LISTEN is not set: the default listens on loopback only, out of the kubelet's reach")
	}
	host, portText, err := net.SplitHostPort(listen.Value)
	if err != nil || (host != "0.0.0.0" && host != "" && host != "::") {
		t.Fatalf("EXPBOT_LISTEN=%q: want all interfaces, so that probes and the service reach it", listen.Value)
	}
	port, _ := strconv.Atoi(portText)
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"startup", c.StartupProbe, healthPath}, {"liveness", c.LivenessProbe, healthPath}, {"readiness", c.ReadinessProbe, readyPath}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s probe over HTTP", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || containerPort(t, c, p.probe.HTTPGet.Port.String()) != port {
			t.Errorf("%s probe asks %s on %s; the bot answers %s on %d", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, port)
		}
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != metricsPath || ann["prometheus.io/port"] != portText {
		t.Errorf("scrape annotations %v, want %s on port %d", ann, metricsPath, port)
	}

	// Locked down: not root, read-only root, no privileges.
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("runAsNonRoot is not set")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("the root file system is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation is allowed")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("the container is privileged")
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want ALL dropped and none added", sc.Capabilities)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 || psc.FSGroup == nil {
		t.Errorf("pod securityContext %+v: want a non-root user and an fsGroup for the data volume", psc)
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = true
	}
	if dataDir := env(t, d, "EXPBOT_DATA_DIR"); dataDir == nil || !mounts[dataDir.Value] {
		t.Errorf("EXPBOT_DATA_DIR %+v is not a mounted volume: the root file system is read-only", dataDir)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod gets a Kubernetes API token it does not need")
	}

	// The service reaches the bot, and the ingress only its webhooks.
	if len(out.services) != 1 {
		t.Fatalf("%d services, want 1", len(out.services))
	}
	svc := out.services[0]
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, p := range svc.Spec.Ports {
		if containerPort(t, c, p.TargetPort.String()) != port {
			t.Errorf("service port %s sends to %s, not the bot's port %d", p.Name, p.TargetPort.String(), port)
		}
	}
	if len(out.ingresses) != 1 {
		t.Fatalf("%d ingresses, want the example", len(out.ingresses))
	}
	for _, rule := range out.ingresses[0].Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			if p.Path != webhookPath || b == nil || b.Name != svc.Name || b.Port.Name != svc.Spec.Ports[0].Name {
				t.Errorf("ingress path %s -> %+v: want only %s, to the service %s", p.Path, b, webhookPath, svc.Name)
			}
		}
	}
}

func env(t *testing.T, d appsv1.Deployment, name string) *corev1.EnvVar {
	t.Helper()
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return &e
		}
	}
	return nil
}

func volume(t *testing.T, d appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.Volume{}
}

// containerPort resolves a port given by name or number.
func containerPort(t *testing.T, c corev1.Container, port string) int {
	t.Helper()
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return int(p.ContainerPort)
		}
	}
	t.Errorf("no container port named %q", port)
	return -1
}

// selects reports whether a selector (non-empty) matches the labels.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}
