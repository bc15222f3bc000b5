package org.mvd.edc.policy;

import org.eclipse.edc.connector.controlplane.catalog.spi.policy.CatalogPolicyContext;
import org.eclipse.edc.iam.verifiablecredentials.spi.model.CredentialSubject;
import org.eclipse.edc.iam.verifiablecredentials.spi.model.Issuer;
import org.eclipse.edc.iam.verifiablecredentials.spi.model.VerifiableCredential;
import org.eclipse.edc.participant.spi.ParticipantAgent;
import org.eclipse.edc.policy.model.Operator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MembershipConstraintFunctionTest {

    private static final String ISSUER = "did:web:localhost%3A1:issuer";

    private static VerifiableCredential vc(String type, String issuer) {
        return VerifiableCredential.Builder.newInstance()
                .types(List.of("VerifiableCredential", type))
                .issuer(new Issuer(issuer))
                .issuanceDate(Instant.now())
                .credentialSubject(CredentialSubject.Builder.newInstance().id("did:web:holder").claim("membership", Map.of()).build())
                .build();
    }

    private static CatalogPolicyContext context(Object vcClaim) {
        Map<String, Object> claims = vcClaim == null ? Map.of() : Map.of("vc", vcClaim);
        return new CatalogPolicyContext(new ParticipantAgent("did:web:holder", claims, Map.of()));
    }

    private final MembershipConstraintFunction<CatalogPolicyContext> function = new MembershipConstraintFunction<>(Set.of(ISSUER));

    @Test
    void acceptsMembershipFromTheDataspaceIssuer() {
        assertTrue(function.evaluate(Operator.EQ, "active", null, context(List.of(vc("MembershipCredential", ISSUER)))));
    }

    @Test
    void refusesOtherIssuerOtherTypeNoCredentialsAndWrongOperand() {
        assertFalse(function.evaluate(Operator.EQ, "active", null, context(List.of(vc("MembershipCredential", "did:web:other")))));
        assertFalse(function.evaluate(Operator.EQ, "active", null, context(List.of(vc("DataProcessorCredential", ISSUER)))));
        assertFalse(function.evaluate(Operator.EQ, "active", null, context(List.of())));
        assertFalse(function.evaluate(Operator.EQ, "active", null, context(null)));
        var ctx = context(List.of(vc("MembershipCredential", ISSUER)));
        assertFalse(function.evaluate(Operator.NEQ, "active", null, ctx));
        assertTrue(ctx.hasProblems());
        assertFalse(function.evaluate(Operator.EQ, "inactive", null, context(List.of(vc("MembershipCredential", ISSUER)))));
    }

    @Test
    void anyTrustedIssuerWhenNoneConfigured() {
        assertTrue(new MembershipConstraintFunction<CatalogPolicyContext>(Set.of())
                .evaluate(Operator.EQ, "active", null, context(List.of(vc("MembershipCredential", "did:web:other")))));
    }
}
