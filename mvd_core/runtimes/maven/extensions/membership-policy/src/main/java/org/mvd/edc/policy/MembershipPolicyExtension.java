package org.mvd.edc.policy;

import org.eclipse.edc.connector.controlplane.catalog.spi.policy.CatalogPolicyContext;
import org.eclipse.edc.connector.controlplane.contract.spi.policy.ContractNegotiationPolicyContext;
import org.eclipse.edc.connector.controlplane.contract.spi.policy.TransferProcessPolicyContext;
import org.eclipse.edc.participant.spi.ParticipantAgentPolicyContext;
import org.eclipse.edc.policy.context.request.spi.RequestCatalogPolicyContext;
import org.eclipse.edc.policy.context.request.spi.RequestContractNegotiationPolicyContext;
import org.eclipse.edc.policy.context.request.spi.RequestPolicyContext;
import org.eclipse.edc.policy.context.request.spi.RequestTransferProcessPolicyContext;
import org.eclipse.edc.policy.engine.spi.PolicyEngine;
import org.eclipse.edc.policy.engine.spi.RuleBindingRegistry;
import org.eclipse.edc.policy.model.Permission;
import org.eclipse.edc.runtime.metamodel.annotation.Extension;
import org.eclipse.edc.runtime.metamodel.annotation.Inject;
import org.eclipse.edc.runtime.metamodel.annotation.Setting;
import org.eclipse.edc.spi.system.ServiceExtension;
import org.eclipse.edc.spi.system.ServiceExtensionContext;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Makes offers able to require dataspace membership.
 * <ul>
 * <li>Provider side: binds the constraint {@code MembershipCredential eq active} (left operand plain, in the EDC
 * or in the ODRL namespace, depending on the JSON-LD context used) in the catalog, negotiation and transfer scopes to {@link MembershipConstraintFunction}.</li>
 * <li>Consumer side: adds {@code edc.dcp.default.scopes} to every outgoing DSP request so the counter-party
 * can query the credential from our identity hub (EDC 0.15.1 has no setting for default DCP scopes).</li>
 * </ul>
 */
@Extension(MembershipPolicyExtension.NAME)
public class MembershipPolicyExtension implements ServiceExtension {

    public static final String NAME = "MVD Membership Policy";
    private static final String EDC_NS = "https://w3id.org/edc/v0.0.1/ns/";
    private static final String ODRL_NS = "http://www.w3.org/ns/odrl/2/";
    private static final String ODRL_USE = ODRL_NS + "use";

    @Setting(description = "Comma separated DCP scopes added to every outgoing catalog, negotiation and transfer request",
            key = "edc.dcp.default.scopes", defaultValue = "org.eclipse.edc.vc.type:MembershipCredential:read")
    private String defaultScopes;

    @Setting(description = "Comma separated issuer DIDs whose MembershipCredential counts; empty = any trusted issuer",
            key = "edc.membership.issuers", required = false)
    private String issuers;

    @Inject
    private PolicyEngine policyEngine;
    @Inject
    private RuleBindingRegistry ruleBindingRegistry;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void initialize(ServiceExtensionContext context) {
        var issuerSet = split(issuers == null ? "" : issuers);
        bind(CatalogPolicyContext.class, CatalogPolicyContext.CATALOG_SCOPE, issuerSet);
        bind(ContractNegotiationPolicyContext.class, ContractNegotiationPolicyContext.NEGOTIATION_SCOPE, issuerSet);
        bind(TransferProcessPolicyContext.class, TransferProcessPolicyContext.TRANSFER_SCOPE, issuerSet);

        var scopes = split(defaultScopes);
        if (!scopes.isEmpty()) {
            policyEngine.registerPostValidator(RequestCatalogPolicyContext.class, (policy, ctx) -> addScopes(ctx, scopes));
            policyEngine.registerPostValidator(RequestContractNegotiationPolicyContext.class, (policy, ctx) -> addScopes(ctx, scopes));
            policyEngine.registerPostValidator(RequestTransferProcessPolicyContext.class, (policy, ctx) -> addScopes(ctx, scopes));
        }
        context.getMonitor().info("Membership constraint bound; default DCP scopes " + scopes);
    }

    private <C extends ParticipantAgentPolicyContext> void bind(Class<C> type, String scope, Set<String> issuerSet) {
        ruleBindingRegistry.bind("use", scope);
        ruleBindingRegistry.bind(ODRL_USE, scope);
        for (var key : new String[]{MembershipConstraintFunction.CREDENTIAL_TYPE, EDC_NS + MembershipConstraintFunction.CREDENTIAL_TYPE, ODRL_NS + MembershipConstraintFunction.CREDENTIAL_TYPE}) {
            ruleBindingRegistry.bind(key, scope);
            policyEngine.registerFunction(type, Permission.class, key, new MembershipConstraintFunction<C>(issuerSet));
        }
    }

    private static boolean addScopes(RequestPolicyContext ctx, Set<String> scopes) {
        var builder = ctx.requestScopeBuilder();
        if (builder != null) {
            scopes.forEach(builder::scope);
        }
        return true;
    }

    private static Set<String> split(String value) {
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
    }
}
