// Package render checks the Helm chart and the kustomize overlay of deploy/
// by rendering them in-process (Helm's engine, kustomize's krusty) and
// decoding every object they produce into the k8s.io/api types with strict
// decoding. It holds only tests, in a module of its own so that Helm's and
// kustomize's dependencies stay out of the main module's build.
package render
