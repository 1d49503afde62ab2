/**
 * Country names as the lists write them ("Russia", "Russian Federation",
 * "Iran (Islamic Republic of)", "Korea, North") to ISO 3166-1 alpha-2. The
 * English names come from the runtime's ICU data (Intl.DisplayNames), plus the
 * official long forms the UN and OFAC use.
 */

const aliases: Readonly<Record<string, string>> = {
  'russian federation': 'RU',
  'iran (islamic republic of)': 'IR',
  'iran, islamic republic of': 'IR',
  'syrian arab republic': 'SY',
  'korea, north': 'KP',
  'north korea': 'KP',
  "democratic people's republic of korea": 'KP',
  'korea, south': 'KR',
  'republic of korea': 'KR',
  burma: 'MM',
  'democratic republic of the congo': 'CD',
  'congo, democratic republic of the': 'CD',
  'republic of the congo': 'CG',
  'united republic of tanzania': 'TZ',
  'venezuela (bolivarian republic of)': 'VE',
  'bolivia (plurinational state of)': 'BO',
  "lao people's democratic republic": 'LA',
  'republic of moldova': 'MD',
  'viet nam': 'VN',
  'united states of america': 'US',
  'united states': 'US',
  'united kingdom of great britain and northern ireland': 'GB',
  'united kingdom': 'GB',
  uk: 'GB',
  'the gambia': 'GM',
  'west bank': 'PS',
  'gaza strip': 'PS',
  'state of palestine': 'PS',
  palestinian: 'PS',
  turkiye: 'TR',
  türkiye: 'TR',
  'czech republic': 'CZ',
  'ivory coast': 'CI',
  "cote d'ivoire": 'CI',
  crimea: 'UA',
  'region: crimea': 'UA',
  kosovo: 'XK',
  macedonia: 'MK',
  'the former yugoslav republic of macedonia': 'MK',
  swaziland: 'SZ',
  'cabo verde': 'CV',
  'brunei darussalam': 'BN',
  'micronesia (federated states of)': 'FM',
}

/** Retired or non-country codes ICU still names (SU would otherwise claim "Russia"). */
const retired = new Set([
  'SU',
  'YU',
  'CS',
  'DD',
  'ZR',
  'TP',
  'BU',
  'FX',
  'NT',
  'AN',
  'QO',
  'EU',
  'EZ',
  'UN',
  'ZZ',
  'XA',
  'XB',
  'AC',
  'CP',
  'DG',
  'EA',
  'IC',
  'TA',
])

let table: Map<string, string> | undefined

function build(): Map<string, string> {
  const m = new Map<string, string>()
  const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' })
  const A = 'A'.charCodeAt(0)
  for (let i = 0; i < 26; i++) {
    for (let j = 0; j < 26; j++) {
      const code = String.fromCharCode(A + i, A + j)
      if (retired.has(code)) continue
      const name = names.of(code)
      if (name !== undefined && name !== code && !m.has(name.toLowerCase()))
        m.set(name.toLowerCase(), code)
    }
  }
  for (const [k, v] of Object.entries(aliases)) m.set(k, v)
  // Demonyms the OFAC remarks use after "nationality".
  const demonyms: Record<string, string> = {
    russian: 'RU',
    ukrainian: 'UA',
    belarusian: 'BY',
    iranian: 'IR',
    syrian: 'SY',
    iraqi: 'IQ',
    afghan: 'AF',
    pakistani: 'PK',
    chinese: 'CN',
    'north korean': 'KP',
    cuban: 'CU',
    venezuelan: 'VE',
    lebanese: 'LB',
    yemeni: 'YE',
    somali: 'SO',
    libyan: 'LY',
    sudanese: 'SD',
  }
  for (const [k, v] of Object.entries(demonyms)) m.set(k, v)
  return m
}

/**
 * @example
 * ```ts
 * countryCode('Russian Federation') // 'RU'
 * countryCode('ru') // 'RU'
 * ```
 */
export function countryCode(name: string): string | undefined {
  table ??= build()
  const n = name.trim().replace(/\.$/, '').toLowerCase()
  if (/^[a-z]{2}$/.test(n)) {
    const up = n.toUpperCase()
    return [...table.values()].includes(up) ? up : undefined
  }
  return table.get(n) ?? table.get(n.replace(/^the /, ''))
}
