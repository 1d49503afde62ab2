/**
 * Commercial rules by region, as pure functions: "no new paid plans for
 * organisations in region X" (existing plans and free protection are not
 * affected). Regions are ISO 3166-1 alpha-2 codes or named groups of them.
 */

export interface RegionRule {
  readonly id: string
  /** ISO 3166-1 alpha-2 codes the rule covers. */
  readonly countries: readonly string[]
  readonly noNewPaidPlans: boolean
}

export interface PlanCheck {
  readonly allowed: boolean
  readonly ruleId?: string
  readonly reason: string
}

/**
 * May an organisation registered in `country` start a new paid plan?
 * An unknown country is allowed unless `unknownCountry: 'deny'`.
 *
 * @example
 * ```ts
 * const rules = [{ id: 'ru-2022', countries: ['RU', 'BY'], noNewPaidPlans: true }]
 * mayStartPaidPlan('ru', rules).allowed // false
 * mayStartPaidPlan('DE', rules).allowed // true
 * ```
 */
export function mayStartPaidPlan(
  country: string | undefined,
  rules: readonly RegionRule[],
  options: { unknownCountry?: 'allow' | 'deny' } = {},
): PlanCheck {
  if (country === undefined || !/^[A-Za-z]{2}$/.test(country)) {
    return options.unknownCountry === 'deny'
      ? { allowed: false, reason: 'country unknown; rules require one for paid plans' }
      : { allowed: true, reason: 'country unknown' }
  }
  const cc = country.toUpperCase()
  const rule = rules.find(
    (r) => r.noNewPaidPlans && r.countries.some((c) => c.toUpperCase() === cc),
  )
  return rule
    ? { allowed: false, ruleId: rule.id, reason: `no new paid plans in ${cc} (rule ${rule.id})` }
    : { allowed: true, reason: `no rule restricts ${cc}` }
}
