//go:build !eg_v1_7

package main

import (
	"context"
	"encoding/json"

	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/envoyproxy/gateway/internal/gatewayapi"
	"github.com/envoyproxy/gateway/internal/gatewayapi/resource"
	"github.com/envoyproxy/gateway/internal/ir"
	"github.com/envoyproxy/gateway/internal/xds/translator"
	"github.com/envoyproxy/gateway/internal/xds/types"
)

func loadResources(doc []byte) (*resource.Resources, error) {
	return resource.LoadResourcesFromYAMLBytes(doc, false, nil)
}

func translateGatewayAPI(t *gatewayapi.Translator, res *resource.Resources) *gatewayapi.TranslateResult {
	out, _ := t.Translate(context.Background(), res)
	return out
}

func translateXds(t *translator.Translator, x *ir.Xds) (*types.ResourceVersionTable, error) {
	return t.Translate(context.Background(), x)
}

// addListenerSets reads the ListenerSets the loader skips (internal/gatewayapi/resource/load.go has no
// case for the kind), as EG's Kubernetes provider lists them.
func addListenerSets(res *resource.Resources, docs []object) {
	for _, obj := range docs {
		if obj.kind != "ListenerSet" {
			continue
		}
		var ls gwapiv1.ListenerSet
		if b, err := json.Marshal(obj.raw); err == nil && json.Unmarshal(b, &ls) == nil {
			ls.Status = gwapiv1.ListenerSetStatus{}
			res.ListenerSets = append(res.ListenerSets, &ls)
		}
	}
}
