/**
 * RFC 3161 Time-Stamp Protocol: request encoding, response checking and token verification
 * (pkijs + asn1js). No network here; the HTTP transport is an adapter.
 */
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const SHA256_OID = '2.16.840.1.101.3.4.2.1';
const EKU_OID = '2.5.29.37';
const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
const TST_INFO_OID = '1.2.840.113549.1.9.16.1.4';

let engineReady = false;
function engine(): void {
  if (engineReady) return;
  pkijs.setEngine(
    'node',
    new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as pkijs.ICryptoEngine['crypto'] }),
  );
  engineReady = true;
}

/** The token is missing, malformed, for another imprint, badly signed, or from a non-TSA certificate. */
export class TimestampError extends Error {
  override readonly name = 'TimestampError';
}

const toAB = (u: Uint8Array): ArrayBuffer => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;

/** DER TimeStampReq for a SHA-256 imprint (hex), with a random nonce and certReq = true. */
export function buildTimestampRequest(imprintHex: string): { der: Buffer; nonceHex: string } {
  const nonce = randomBytes(8);
  // A positive INTEGER in its minimal DER form: first byte 0x40–0x7f (high bit clear, never 0x00).
  // A leading 0x00 before a byte < 0x80 is not DER and a TSA refuses the request (openssl ts answers
  // status 2): one block in 256 used to go unanchored until the next seal retried it.
  nonce[0] = (nonce[0]! & 0x3f) | 0x40;
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_OID }),
      hashedMessage: new asn1js.OctetString({ valueHex: toAB(Buffer.from(imprintHex, 'hex')) }),
    }),
    certReq: true,
    nonce: new asn1js.Integer({ valueHex: toAB(nonce) }),
  });
  return { der: Buffer.from(req.toSchema().toBER(false)), nonceHex: nonce.toString('hex') };
}

function parseDer(der: Uint8Array, what: string): asn1js.AsnType {
  const asn = asn1js.fromBER(toAB(der));
  if (asn.offset === -1) throw new TimestampError(`${what} is not valid DER`);
  return asn.result;
}

function tstInfoOf(tokenDer: Uint8Array): { signed: pkijs.SignedData; tst: pkijs.TSTInfo } {
  let ci: pkijs.ContentInfo;
  try {
    ci = new pkijs.ContentInfo({ schema: parseDer(tokenDer, 'timestamp token') });
  } catch (e) {
    if (e instanceof TimestampError) throw e;
    throw new TimestampError('timestamp token is not a CMS ContentInfo');
  }
  if (ci.contentType !== pkijs.ContentInfo.SIGNED_DATA)
    throw new TimestampError('timestamp token is not CMS SignedData');
  const signed = new pkijs.SignedData({ schema: ci.content });
  if (signed.encapContentInfo.eContentType !== TST_INFO_OID)
    throw new TimestampError('timestamp token does not carry TSTInfo');
  const content = signed.encapContentInfo.eContent;
  if (!content) throw new TimestampError('timestamp token has no TSTInfo content');
  const tst = new pkijs.TSTInfo({ schema: parseDer(new Uint8Array(content.getValue()), 'TSTInfo') });
  return { signed, tst };
}

/**
 * Checks a DER TimeStampResp: status granted, imprint and nonce match the request. Returns the
 * DER TimeStampToken to keep with the block.
 */
export function tokenFromResponse(respDer: Uint8Array, imprintHex: string, nonceHex: string): Buffer {
  let resp: pkijs.TimeStampResp;
  try {
    resp = new pkijs.TimeStampResp({ schema: parseDer(respDer, 'timestamp response') });
  } catch (e) {
    if (e instanceof TimestampError) throw e;
    throw new TimestampError('not a TimeStampResp');
  }
  if (resp.status.status !== pkijs.PKIStatus.granted && resp.status.status !== pkijs.PKIStatus.grantedWithMods) {
    throw new TimestampError(`TSA refused the request (status ${resp.status.status})`);
  }
  if (!resp.timeStampToken) throw new TimestampError('TSA response has no token');
  const token = Buffer.from(resp.timeStampToken.toSchema().toBER(false));
  const { tst } = tstInfoOf(token);
  const nonce = tst.nonce ? Buffer.from(tst.nonce.valueBlock.valueHexView).toString('hex') : '';
  if (nonce.replace(/^0+/, '') !== nonceHex.replace(/^0+/, ''))
    throw new TimestampError('TSA response nonce does not match the request');
  checkImprint(tst, imprintHex);
  return token;
}

function checkImprint(tst: pkijs.TSTInfo, imprintHex: string): void {
  if (tst.messageImprint.hashAlgorithm.algorithmId !== SHA256_OID)
    throw new TimestampError('timestamp imprint is not SHA-256');
  const got = Buffer.from(tst.messageImprint.hashedMessage.valueBlock.valueHexView).toString('hex');
  if (got !== imprintHex.toLowerCase())
    throw new TimestampError(
      `timestamp message imprint ${got.slice(0, 16)}… does not match block hash ${imprintHex.slice(0, 16)}…`,
    );
}

export interface VerifiedTimestamp {
  readonly genTime: string;
  readonly serial: string;
  readonly tsaSubject: string;
}

/**
 * Verifies a DER TimeStampToken over `message`: imprint = SHA-256(message) (for a block, the
 * message is its canonical head and the imprint its block_hash), CMS signature by the embedded
 * signer certificate, and that certificate's extended key usage is (only) id-kp-timeStamping,
 * marked critical (RFC 3161 §2.3). With `trustedCertsPem`, the signer must chain to one of them.
 */
export async function verifyTimestampToken(
  tokenDer: Uint8Array,
  message: Uint8Array,
  opts: { trustedCertsPem?: readonly string[] } = {},
): Promise<VerifiedTimestamp> {
  engine();
  const imprintHex = createHash('sha256').update(message).digest('hex');
  const { signed, tst } = tstInfoOf(tokenDer);
  checkImprint(tst, imprintHex);
  const certs = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  if (certs.length === 0)
    throw new TimestampError('timestamp token carries no TSA certificate (certReq was not honoured)');
  const trusted = (opts.trustedCertsPem ?? []).map(pemToCert);
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify({
      signer: 0,
      data: toAB(message),
      checkChain: trusted.length > 0,
      trustedCerts: trusted,
      extendedMode: true,
    });
  } catch (e) {
    const r = e as Partial<pkijs.SignedDataVerifyResult> & { message?: string };
    throw new TimestampError(`timestamp signature invalid: ${r.message ?? String(e)}`);
  }
  if (!result.signatureVerified) throw new TimestampError('timestamp signature invalid');
  const signer = result.signerCertificate ?? certs[0]!;
  const eku = signer.extensions?.find((x) => x.extnID === EKU_OID);
  if (!eku) throw new TimestampError('TSA certificate has no extended key usage');
  if (!eku.critical) throw new TimestampError('TSA certificate extended key usage is not critical');
  const usages = (eku.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  if (usages.length !== 1 || usages[0] !== EKU_TIME_STAMPING)
    throw new TimestampError('TSA certificate extended key usage is not timeStamping');
  return {
    genTime: tst.genTime.toISOString(),
    serial: Buffer.from(tst.serialNumber.valueBlock.valueHexView).toString('hex'),
    tsaSubject: signer.subject.typesAndValues.map((t) => `${t.type}=${t.value.valueBlock.value}`).join(','),
  };
}

function pemToCert(pem: string): pkijs.Certificate {
  const b = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return pkijs.Certificate.fromBER(toAB(b));
}
