package com.cloudbees.groovy.cps

import java.lang.annotation.ElementType
import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy
import java.lang.annotation.Target

/**
 * Test-only stand-in for Jenkins' {@code @NonCPS} (groovy-cps), which is not on Maven Central.
 * In Jenkins it marks a method to run as plain Groovy, outside the CPS transformation; here it
 * only has to exist so the library classes compile.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target([ElementType.METHOD])
@interface NonCPS {}
