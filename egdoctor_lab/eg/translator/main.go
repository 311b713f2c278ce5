// eg-translate runs Envoy Gateway's own translator on a set of Kubernetes objects, offline, and prints
// the statuses it computes and the xDS resources it would send to Envoy.
//
// It does what `egctl experimental translate --from gateway-api --to gateway-api,xds` does
// (internal/cmd/egctl/translate.go: the same gatewayapi.Translator and xds translator.Translator),
// with two differences. Endpoint routing stays on, as in EG's default configuration, so EndpointSlices
// are read (egctl turns it off and routes to Service cluster IPs). And egctl's loader (internal/gatewayapi/resource/load.go) keeps
// only each object's name and namespace, so Namespace labels (and so every allowedRoutes namespace
// selector), creationTimestamp (policy and route precedence) and annotations are lost. Here the objects
// are loaded by that same loader, for its schema validation and defaulting, and then get their full
// metadata back. The loader reads no ListenerSet (v1.9.1's load.go has no case for it, though the
// translator and EG's Kubernetes provider handle them), so they are added beside it. It also prints the SDS secrets, which egctl's config dump leaves out.
//
// Input: a JSON array of objects on stdin. Output (stdout, JSON):
//
//	{"egVersion": "...", "rejected": [{"object": "Kind/ns/name", "error": "..."}],
//	 "resources": [ ...objects with the statuses EG computed... ],
//	 "xds": {"<infra IR key>": {"listeners": [...], "routes": [...], "clusters": [...],
//	                           "endpoints": [...], "secrets": [...]}}}
//
// The program's module path sits under github.com/envoyproxy/gateway only because Go's internal-package
// rule is decided on import paths, and the translator lives in that module's internal/ tree.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/envoyproxy/gateway/internal/gatewayapi"
	"github.com/envoyproxy/gateway/internal/gatewayapi/resource"
	"github.com/envoyproxy/gateway/internal/gatewayapi/status"
	"github.com/envoyproxy/gateway/internal/infrastructure/kubernetes/ratelimit"
	"github.com/envoyproxy/gateway/internal/logging"
	"github.com/envoyproxy/gateway/internal/xds/translator"
)

// egVersion is set at build time (-ldflags "-X main.egVersion=...").
var egVersion = "unknown"

// statusBearing: the kinds whose status the translator writes; Secrets, ConfigMaps and the like are
// input only and stay out of the output.
func statusBearing(kind string) bool {
	switch kind {
	case "Namespace", "Service", "ServiceImport", "EndpointSlice", "Secret", "ConfigMap", "ClusterTrustBundle":
		return false
	}
	return true
}

type rejected struct {
	Object string `json:"object"`
	Error  string `json:"error"`
}

type output struct {
	EGVersion string                                  `json:"egVersion"`
	Rejected  []rejected                              `json:"rejected"`
	Resources []map[string]any                        `json:"resources"`
	Xds       map[string]map[string][]json.RawMessage `json:"xds"`
}

type object struct {
	raw  map[string]any
	kind string
	key  string // Kind/namespace/name
	yaml []byte
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "eg-translate: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var raws []map[string]any
	if err := json.Unmarshal(data, &raws); err != nil {
		return fmt.Errorf("input is not a JSON array of objects: %w", err)
	}
	objects := make([]object, 0, len(raws))
	for _, raw := range raws {
		objects = append(objects, newObject(raw))
	}
	result := output{EGVersion: egVersion, Rejected: []rejected{}, Resources: []map[string]any{}, Xds: map[string]map[string][]json.RawMessage{}}

	// EndpointSlices are not the loader's (see translateClass).
	// The loader refuses a whole input for one invalid document; a cluster's API server would have
	// refused only that object, so find the culprits one by one and translate the rest.
	valid := objects
	if _, err := load(withoutSlices(objects)); err != nil {
		valid = valid[:0:0]
		for _, obj := range objects {
			if obj.kind == "EndpointSlice" {
				valid = append(valid, obj)
				continue
			}
			if _, err := load([]object{obj}); err != nil {
				result.Rejected = append(result.Rejected, rejected{Object: obj.key, Error: err.Error()})
				continue
			}
			valid = append(valid, obj)
		}
	}

	// The translator serves one GatewayClass at a time, as EG does per class it controls.
	for _, gc := range valid {
		if gc.kind != "GatewayClass" {
			continue
		}
		spec, _ := gc.raw["spec"].(map[string]any)
		if spec["controllerName"] != string(egv1a1.GatewayControllerName) {
			continue
		}
		var docs, slices []object
		for _, obj := range valid {
			switch {
			case obj.kind == "GatewayClass" && obj.key != gc.key:
				continue
			case obj.kind == "EndpointSlice":
				slices = append(slices, obj)
			default:
				docs = append(docs, obj)
			}
		}
		if err := translateClass(docs, slices, &result); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(out)
	return enc.Encode(result)
}

func withoutSlices(objects []object) []object {
	var out []object
	for _, obj := range objects {
		if obj.kind != "EndpointSlice" {
			out = append(out, obj)
		}
	}
	return out
}

func newObject(raw map[string]any) object {
	meta, _ := raw["metadata"].(map[string]any)
	kind, _ := raw["kind"].(string)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	// Status is the translator's to write; the loader would ignore it anyway.
	clean := map[string]any{}
	for k, v := range raw {
		if k != "status" {
			clean[k] = v
		}
	}
	doc, _ := yaml.Marshal(clean)
	return object{raw: raw, kind: kind, key: kind + "/" + ns + "/" + name, yaml: doc}
}

func load(objects []object) (res *resource.Resources, err error) {
	// The loader panics on some shapes it does not expect (an API version it does not read, say);
	// that is one more way of refusing the input.
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("loader: %v", r)
		}
	}()
	var buf bytes.Buffer
	for _, obj := range objects {
		buf.WriteString("---\n")
		buf.Write(obj.yaml)
	}
	return loadResources(buf.Bytes())
}

// restoreMetadata gives every loaded object the metadata it had in the input (labels, annotations,
// creationTimestamp, generation, uid), which the loader dropped.
func restoreMetadata(res *resource.Resources, objects []object) {
	byKey := map[string]metav1.ObjectMeta{}
	for _, obj := range objects {
		var meta metav1.ObjectMeta
		if m, ok := obj.raw["metadata"]; ok {
			if b, err := json.Marshal(m); err == nil {
				_ = json.Unmarshal(b, &meta)
			}
		}
		byKey[obj.key] = meta
	}
	visitObjects(res, func(o metav1.Object, kind string) {
		meta, ok := byKey[kind+"/"+o.GetNamespace()+"/"+o.GetName()]
		if !ok && o.GetNamespace() == "default" {
			meta, ok = byKey[kind+"//"+o.GetName()]
		}
		if !ok {
			return
		}
		o.SetLabels(meta.Labels)
		o.SetAnnotations(meta.Annotations)
		o.SetCreationTimestamp(meta.CreationTimestamp)
		o.SetGeneration(meta.Generation)
		o.SetUID(meta.UID)
		o.SetResourceVersion(meta.ResourceVersion)
	})
}

// visitObjects calls fn for every Kubernetes object the resources hold, whatever fields this EG
// version's Resources struct has.
func visitObjects(res *resource.Resources, fn func(metav1.Object, string)) {
	v := reflect.ValueOf(res).Elem()
	for i := 0; i < v.NumField(); i++ {
		field := v.Field(i)
		switch field.Kind() {
		case reflect.Ptr:
			if !field.IsNil() {
				visitOne(field.Interface(), fn)
			}
		case reflect.Slice:
			for j := 0; j < field.Len(); j++ {
				elem := field.Index(j)
				if elem.Kind() == reflect.Ptr && !elem.IsNil() {
					visitOne(elem.Interface(), fn)
				}
			}
		}
	}
}

func visitOne(value any, fn func(metav1.Object, string)) {
	o, ok := value.(metav1.Object)
	if !ok {
		return
	}
	t := reflect.TypeOf(value).Elem()
	fn(o, t.Name())
}

func translateClass(docs, slices []object, result *output) error {
	res, err := load(docs)
	if err != nil {
		return err
	}
	addListenerSets(res, docs)
	restoreMetadata(res, docs)
	attachEnvoyProxies(res, docs)
	// EG's loader reads no EndpointSlices; EG's Kubernetes provider lists them for every backend Service.
	for _, obj := range slices {
		var slice discoveryv1.EndpointSlice
		if b, err := json.Marshal(obj.raw); err == nil && json.Unmarshal(b, &slice) == nil {
			res.EndpointSlices = append(res.EndpointSlices, &slice)
		}
	}
	// As egctl does for its IR output: a Service without a cluster IP would fail the xDS translation
	// where a route falls back to it, and the lab points every cluster at its echo backend anyway.
	for _, svc := range res.Services {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = "10.96.1.2"
		}
	}
	gt := &gatewayapi.Translator{
		GatewayControllerName:   string(res.GatewayClass.Spec.ControllerName),
		GatewayClassName:        gwapiv1.ObjectName(res.GatewayClass.Name),
		GlobalRateLimitEnabled:  true,
		EndpointRoutingDisabled: false,
		EnvoyPatchPolicyEnabled: true,
		BackendEnabled:          true,
		Logger:                  logging.DefaultLogger(io.Discard, egv1a1.LogLevelInfo),
	}
	applyEnvoyGatewayConfig(gt, res, docs)
	gres := translateGatewayAPI(gt, res)
	// What EG's Kubernetes provider adds before it writes a Gateway's status
	// (internal/provider/kubernetes/status.go): Accepted derived from the listeners, unless translation
	// already rejected the Gateway. Programmed and the addresses come from the Envoy Service and
	// Deployment, which only a cluster has.
	for _, gw := range gres.Gateways {
		if !rejectedGateway(gw) {
			status.UpdateGatewayStatusAccepted(gw)
		}
	}
	status.SetGatewayClassAccepted(res.GatewayClass, true, string(gwapiv1.GatewayClassReasonAccepted), status.MsgValidGatewayClass)
	gres.Resources.GatewayClass = res.GatewayClass
	if err := appendResources(&gres.Resources, result); err != nil {
		return err
	}

	keys := make([]string, 0, len(gres.XdsIR))
	for key := range gres.XdsIR {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		xt := &translator.Translator{
			GlobalRateLimit: &translator.GlobalRateLimitSettings{ServiceURL: ratelimit.GetServiceURL("envoy-gateway-system", "cluster.local")},
			Logger:          logging.DefaultLogger(io.Discard, egv1a1.LogLevelInfo),
		}
		if res.EnvoyProxyForGatewayClass != nil {
			xt.FilterOrder = res.EnvoyProxyForGatewayClass.Spec.FilterOrder
		}
		table, err := translateXds(xt, gres.XdsIR[key])
		if err != nil {
			return fmt.Errorf("xds translation of %s: %w", key, err)
		}
		out := map[string][]json.RawMessage{}
		for name, typ := range map[string]resourcev3.Type{
			"listeners": resourcev3.ListenerType,
			"routes":    resourcev3.RouteType,
			"clusters":  resourcev3.ClusterType,
			"endpoints": resourcev3.EndpointType,
			"secrets":   resourcev3.SecretType,
		} {
			out[name] = []json.RawMessage{}
			for _, r := range table.XdsResources[typ] {
				b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(r.(proto.Message))
				if err != nil {
					return err
				}
				out[name] = append(out[name], b)
			}
		}
		result.Xds[key] = out
	}
	return nil
}

// The ConfigMap EG's Helm chart writes its own configuration into (an EnvoyGateway object under
// envoy-gateway.yaml; charts/gateway-helm/templates/envoy-gateway-config.yaml).
const (
	controllerNamespace = "envoy-gateway-system"
	egConfigMap         = "envoy-gateway-config"
	egConfigKey         = "envoy-gateway.yaml"
)

// applyEnvoyGatewayConfig sets what EG's gateway-api runner takes from its configuration and the class's
// EnvoyProxy (internal/gatewayapi/runner/runner.go): the controller namespace, the GatewayNamespace deploy
// mode, the default EnvoyProxy spec (internal/provider/kubernetes/controller.go) and mergeGateways, decided
// by EG's own IsMergeGatewaysEnabled. Without the ConfigMap, EG's defaults apply.
func applyEnvoyGatewayConfig(gt *gatewayapi.Translator, res *resource.Resources, docs []object) {
	gt.ControllerNamespace = controllerNamespace
	for _, obj := range docs {
		if obj.kind != "ConfigMap" || obj.key != "ConfigMap/"+controllerNamespace+"/"+egConfigMap {
			continue
		}
		data, _ := obj.raw["data"].(map[string]any)
		text, _ := data[egConfigKey].(string)
		var eg egv1a1.EnvoyGateway
		if err := yaml.Unmarshal([]byte(text), &eg); err != nil {
			fmt.Fprintf(os.Stderr, "eg-translate: %s/%s: %v\n", controllerNamespace, egConfigMap, err)
			continue
		}
		gt.GatewayNamespaceMode = eg.GatewayNamespaceMode()
		res.EnvoyProxyDefaultSpec = eg.EnvoyProxy
	}
	gt.MergeGateways = gatewayapi.IsMergeGatewaysEnabled(res)
}

// attachEnvoyProxies places EnvoyProxy objects where EG's Kubernetes provider does: the one the
// GatewayClass's parametersRef names, and those Gateways name in spec.infrastructure.parametersRef (in
// the Gateway's namespace). egctl's loader keeps only the last EnvoyProxy, as the GatewayClass's.
func attachEnvoyProxies(res *resource.Resources, docs []object) {
	proxies := map[string]*egv1a1.EnvoyProxy{}
	for _, obj := range docs {
		if obj.kind != "EnvoyProxy" {
			continue
		}
		var ep egv1a1.EnvoyProxy
		if b, err := json.Marshal(obj.raw); err == nil && json.Unmarshal(b, &ep) == nil {
			ep.Status = egv1a1.EnvoyProxyStatus{}
			proxies[ep.Namespace+"/"+ep.Name] = &ep
		}
	}
	res.EnvoyProxyForGatewayClass = nil
	res.EnvoyProxiesForGateways = nil
	if ref := res.GatewayClass.Spec.ParametersRef; ref != nil && string(ref.Group) == egv1a1.GroupName && string(ref.Kind) == "EnvoyProxy" && ref.Namespace != nil {
		res.EnvoyProxyForGatewayClass = proxies[string(*ref.Namespace)+"/"+ref.Name]
	}
	seen := map[string]bool{}
	for _, gw := range res.Gateways {
		infra := gw.Spec.Infrastructure
		if infra == nil || infra.ParametersRef == nil || string(infra.ParametersRef.Kind) != "EnvoyProxy" {
			continue
		}
		key := gw.Namespace + "/" + infra.ParametersRef.Name
		if ep, ok := proxies[key]; ok && !seen[key] {
			seen[key] = true
			res.EnvoyProxiesForGateways = append(res.EnvoyProxiesForGateways, ep)
		}
	}
}

func rejectedGateway(gw *gwapiv1.Gateway) bool {
	for _, c := range gw.Status.Conditions {
		if c.Type == string(gwapiv1.GatewayConditionAccepted) && c.Status == metav1.ConditionFalse {
			return true
		}
	}
	return false
}

func appendResources(res *resource.Resources, result *output) error {
	var err error
	visitObjects(res, func(o metav1.Object, kind string) {
		if err != nil || !statusBearing(kind) {
			return
		}
		b, e := json.Marshal(o)
		if e != nil {
			err = e
			return
		}
		var m map[string]any
		if e := json.Unmarshal(b, &m); e != nil {
			err = e
			return
		}
		m["kind"] = kind
		result.Resources = append(result.Resources, m)
	})
	return err
}
