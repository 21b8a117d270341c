import { Effect, Layer } from "effect"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { ContractHooks, kubernetesContract } from "./KubernetesContract.js"

const fake = FakeKubernetes.layer()
const hooks = Layer.effect(
  ContractHooks,
  Effect.map(
    FakeKubernetes.FakeKubernetes,
    (k8s) => ContractHooks.of({ compact: k8s.expireWatches, setNodeReady: k8s.setNodeReady })
  )
)

kubernetesContract("FakeKubernetes", Layer.merge(fake, Layer.provide(hooks, fake)))
