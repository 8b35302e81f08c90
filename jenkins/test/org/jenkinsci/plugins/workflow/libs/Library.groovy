package org.jenkinsci.plugins.workflow.libs

import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy

/**
 * Test-only stand-in for pipeline-groovy-lib's {@code @Library}, so a Jenkinsfile that starts
 * with `@Library('kube-preflight') _` compiles under plain Groovy. Jenkins imports it for
 * Jenkinsfiles implicitly; the tests do the same with an ImportCustomizer.
 */
@Retention(RetentionPolicy.SOURCE)
@interface Library {
    String[] value()
}
