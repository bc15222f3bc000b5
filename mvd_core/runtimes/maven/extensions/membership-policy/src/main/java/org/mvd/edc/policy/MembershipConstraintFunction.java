package org.mvd.edc.policy;

import org.eclipse.edc.iam.verifiablecredentials.spi.model.VerifiableCredential;
import org.eclipse.edc.participant.spi.ParticipantAgentPolicyContext;
import org.eclipse.edc.policy.engine.spi.AtomicConstraintRuleFunction;
import org.eclipse.edc.policy.model.Operator;
import org.eclipse.edc.policy.model.Permission;

import java.util.List;
import java.util.Set;

/**
 * {@code MembershipCredential eq active}: true when the counter-party presented a verifiable credential of type
 * {@code MembershipCredential} whose issuer is one of {@code issuers} (empty: any issuer the DCP layer trusted).
 * DCP has already verified signature, expiry and that the issuer is a trusted issuer before the claims reach here.
 */
public class MembershipConstraintFunction<C extends ParticipantAgentPolicyContext> implements AtomicConstraintRuleFunction<Permission, C> {

    public static final String CREDENTIAL_TYPE = "MembershipCredential";
    private static final String VC_CLAIM = "vc";

    private final Set<String> issuers;

    public MembershipConstraintFunction(Set<String> issuers) {
        this.issuers = issuers;
    }

    @Override
    public boolean evaluate(Operator operator, Object rightValue, Permission rule, C context) {
        if (operator != Operator.EQ || !"active".equals(String.valueOf(rightValue))) {
            context.reportProblem("MembershipCredential constraint must be 'eq active', was '%s %s'".formatted(operator, rightValue));
            return false;
        }
        var agent = context.participantAgent();
        if (agent == null) {
            context.reportProblem("No participant agent in the policy context");
            return false;
        }
        var claim = agent.getClaims().get(VC_CLAIM);
        if (!(claim instanceof List<?> list) || list.isEmpty()) {
            context.reportProblem("Counter-party presented no verifiable credential");
            return false;
        }
        var ok = list.stream()
                .filter(VerifiableCredential.class::isInstance)
                .map(VerifiableCredential.class::cast)
                .anyMatch(this::isMembership);
        if (!ok) {
            context.reportProblem("Counter-party presented no MembershipCredential from a dataspace issuer");
        }
        return ok;
    }

    private boolean isMembership(VerifiableCredential vc) {
        var typeMatches = vc.getType() != null && vc.getType().stream().anyMatch(t -> t.equals(CREDENTIAL_TYPE) || t.endsWith("/" + CREDENTIAL_TYPE) || t.endsWith("#" + CREDENTIAL_TYPE));
        var issuerMatches = issuers.isEmpty() || (vc.getIssuer() != null && issuers.contains(vc.getIssuer().id()));
        return typeMatches && issuerMatches;
    }
}
