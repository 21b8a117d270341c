/**
 * docs/annotations.md, rendered from the annotation catalogue: `npm run docs:annotations` writes it,
 * and a unit test fails when the committed file differs, so the reference cannot drift from the code.
 */
import { catalogue } from "./Annotations.js"

/** The markdown table of every annotation, in catalogue order; the controller's own ones marked. */
export const renderTable = (): string => {
  const rows = catalogue.map((a) =>
    `| \`${a.key}\` | ${a.type} | ${a.default} | ${a.origin}${
      a.managed ? " (written by the CCM)" : ""
    } | ${a.description} |`
  )
  return ["| annotation | type | default | origin | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join("\n")
}

/** The whole of docs/annotations.md. */
export const renderReference = (): string =>
  [
    "# Service annotations",
    "",
    "<!-- Generated from src/provider/loadbalancer/Annotations.ts by `npm run docs:annotations`: do not edit by hand",
    "     (test/docs/AnnotationReference.test.ts fails when this file differs from the catalogue). -->",
    "",
    "Annotations on a `type: LoadBalancer` Service that this CCM reads, and the ones it writes. How the",
    "load balancer is built from them: [load-balancers.md](load-balancers.md).",
    "",
    "Every value is checked before any CloudStack call: one bad value or more is one `InvalidAnnotation`",
    "Warning Event naming every bad value, and nothing changes in CloudStack until the Service is fixed",
    "(see [troubleshooting.md](troubleshooting.md)). An annotation marked *written by the CCM* is the",
    "controller's own record: do not set or remove it by hand.",
    "",
    renderTable(),
    ""
  ].join("\n")
