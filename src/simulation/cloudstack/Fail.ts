/**
 * The simulator's error answers, all pure: a failure with its real HTTP status, cserrorcode and
 * text (reference 2.4), and the error envelope it is rendered into. No state, no services.
 */
import * as ResponseKey from "../../cloudstack/ResponseKey.js"

/** An error answer: HTTP status = code; `cs` undefined on the 401 auth path. */
export class Fail {
  readonly _tag = "Fail"
  constructor(
    readonly code: number,
    readonly cs: number | undefined,
    readonly text: string,
    /** Outer key `errorresponse` instead of `<command>response` (unknown commands). */
    readonly errorResponseKey: boolean = false
  ) {}
}

// cserrorcodes of reference 2.4
export const CS_SERVER_API = 9999
export const CS_INVALID_PARAMETER = 4350
export const CS_PERMISSION_DENIED = 4365
export const CS_RULE_CONFLICT = 4360
export const CS_INSUFFICIENT_ADDRESS = 4320
export const CS_CLOUD_RUNTIME = 4250

/** InvalidParameterValueException: 431 / 4350. */
export const invalid = (text: string): Fail => new Fail(431, CS_INVALID_PARAMETER, text)
/** ServerApiException(PARAM_ERROR) without cause: 431 / 9999. */
export const paramError = (text: string): Fail => new Fail(431, CS_SERVER_API, text)
export const permissionDenied = (text: string): Fail => new Fail(531, CS_PERMISSION_DENIED, text)
export const conflict = (text: string): Fail => new Fail(537, CS_RULE_CONFLICT, text)

export const AUTH_TEXT = "unable to verify user credentials and/or request signature"
export const authFail = (errorResponseKey: boolean): Fail => new Fail(401, undefined, AUTH_TEXT, errorResponseKey)

export const USER_ERROR_MESSAGE = "Internal error executing command, please contact your system administrator"

/** The key the real server answers `command` under (class-defined exceptions included, reference 2.1). */
export const responseKey = ResponseKey.of

export const errorBody = (command: string, f: Fail): unknown => {
  const inner = f.cs === undefined
    ? { uuidList: [], errorcode: f.code, errortext: f.text }
    : { uuidList: [], errorcode: f.code, cserrorcode: f.cs, errortext: f.text }
  return { [f.errorResponseKey ? ResponseKey.ERROR_RESPONSE_KEY : responseKey(command)]: inner }
}
