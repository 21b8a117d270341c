/**
 * The top-level key under which CloudStack answers each command (reference 2.1-2.2): the client
 * accepts an answer only under one of these keys, the simulator answers under them. Pure data.
 */

/** The key of error answers to unknown commands, 432 UNSUPPORTED_ACTION and parameterless requests. */
export const ERROR_RESPONSE_KEY = "errorresponse"

/**
 * Command classes whose `getCommandName()` returns a hand-written name instead of
 * `<command lowercased>response`: the commands this CCM sends, read in apache/cloudstack's
 * CreateLBStickinessPolicyCmd (`createLBStickinessPolicy`), DeleteLBStickinessPolicyCmd
 * (`deleteLBstickinessrruleresponse`, also what the CloudStack UI reads) and
 * UpdateNetworkACLItemCmd (`createnetworkaclresponse`); and ActivateProjectCmd
 * (`activaterojectresponse`), which a recorded fixture carries. A Map, so no prototype key matches.
 */
const OVERRIDES: ReadonlyMap<string, string> = new Map([
  ["activateProject", "activaterojectresponse"],
  ["createLBStickinessPolicy", "createLBStickinessPolicy"],
  ["deleteLBStickinessPolicy", "deleteLBstickinessrruleresponse"],
  ["updateNetworkACLItem", "createnetworkaclresponse"]
])

/** `<command lowercased>response`, the name every command class derives by default. */
export const standard = (command: string): string => `${command.toLowerCase()}response`

/** The key the management server answers `command` under (successes and its own error answers). */
export const of = (command: string): string => OVERRIDES.get(command) ?? standard(command)

/**
 * Every key a genuine answer to `command` may carry: the class's own name and, where a class
 * overrides it, also the derived one (releases that drop an override answer under it).
 */
export const accepted = (command: string): ReadonlyArray<string> => {
  const override = OVERRIDES.get(command)
  return override === undefined ? [standard(command)] : [override, standard(command)]
}
